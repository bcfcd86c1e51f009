//go:build e2e

package main

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/partnerops/partnerops/workflows"
)

// The whole onboarding through the HTTP API, against real services: apply, get
// approved (receiving the partner key), accept the agreement, get certified,
// become active; the workflow's search attributes follow.
func TestOnboardingEndToEnd(t *testing.T) {
	f := newProgram(t)
	app := expect(t, do(t, call{method: "POST", path: "/v1/applications", body: application(f, "reseller")}), http.StatusCreated)
	id := app.str("id")
	if app.str("status") != "pending_review" || app.str("workflow_id") != "partner-"+id || app.str("tier", "name") != "Registered" {
		t.Fatalf("application: %s", app.raw)
	}

	pending := expect(t, do(t, call{method: "GET", path: "/v1/applications?status=pending&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	if data := pending.body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("pending list: %s", pending.raw)
	}

	approved := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{"reason": "strong regional reseller"}}), http.StatusOK)
	partnerKey := approved.str("api_key")
	if approved.str("status") != "awaiting_agreement" || partnerKey == "" {
		t.Fatalf("approve: %s", approved.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusConflict)

	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: partnerKey}), http.StatusOK)
	if me.str("step") != workflows.StepAgreement {
		t.Fatalf("step after approval: %s", me.raw)
	}
	r := do(t, call{method: "POST", path: "/v1/me/agreement", key: partnerKey, body: map[string]any{"version": "2025-01"}})
	if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code != "wrong_version" || field != "version" {
		t.Fatalf("old terms: %d %s", r.status, r.raw)
	}
	agreed := expect(t, do(t, call{method: "POST", path: "/v1/me/agreement", key: partnerKey, body: map[string]any{"version": "2026-01"}}), http.StatusOK)
	if missing := agreed.body["missing_certifications"].([]any); agreed.str("status") != "awaiting_certification" || len(missing) != 1 || missing[0] != "sales-fundamentals" || agreed.str("step") != workflows.StepCertification {
		t.Fatalf("agreement: %s", agreed.raw)
	}

	certified := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/certifications", key: f.manager,
		body: map[string]any{"name": "sales-fundamentals", "passed_at": "2026-01-15", "expires_at": "2099-01-15"}}), http.StatusCreated)
	if certified.str("status") != "active" {
		t.Fatalf("certification: %s", certified.raw)
	}

	me = expect(t, do(t, call{method: "GET", path: "/v1/me", key: partnerKey}), http.StatusOK)
	var kinds []string
	for _, e := range me.body["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if want := []string{"approved", "agreement_accepted", "certified", "activated"}; !slices.Equal(kinds, want) || me.str("step") != workflows.StepActive {
		t.Fatalf("timeline %v step %q: %s", kinds, me.str("step"), me.raw)
	}
	if me.body["activated_at"] == nil || len(me.body["certifications"].([]any)) != 1 {
		t.Fatalf("me: %s", me.raw)
	}

	// Operators find the partner by its search attributes in the Temporal UI.
	eventually(t, "the workflow to be listed as active", func() bool {
		resp, err := sys.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "PartneropsPartnerId = '" + id + "' AND PartneropsStatus = 'active' AND PartneropsPartnerType = 'reseller'"})
		return err == nil && len(resp.Executions) == 1
	})
}

// A rejected applicant's workflow ends; the same e-mail may then apply again.
func TestRejectionEndsTheWorkflowAndAllowsReapplying(t *testing.T) {
	f := newProgram(t)
	body := application(f, "affiliate")
	id := expect(t, do(t, call{method: "POST", path: "/v1/applications", body: body}), http.StatusCreated).str("id")
	r := do(t, call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{}})
	if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code != "required" || field != "reason" {
		t.Fatalf("reject without reason: %d %s", r.status, r.raw)
	}
	rejected := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "coupon sites are not accepted"}}), http.StatusOK)
	if rejected.str("status") != "rejected" || rejected.str("reject_reason") != "coupon sites are not accepted" || rejected.str("api_key") != "" {
		t.Fatalf("reject: %s", rejected.raw)
	}
	var st workflows.PartnerState
	if err := sys.temporal.GetWorkflow(context.Background(), "partner-"+id, "").Get(context.Background(), &st); err != nil || st.Status != "rejected" {
		t.Fatalf("workflow result %+v %v", st, err)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/applications", body: body}), http.StatusCreated)
	expect(t, do(t, call{method: "POST", path: "/v1/applications", body: body}), http.StatusConflict)
}

// An operator can approve from the Temporal CLI or UI with a Signal: the same
// decision, the same validation.
func TestApprovalBySignal(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "creator")
	ctx := context.Background()
	if err := sys.temporal.SignalWorkflow(ctx, "partner-"+id, "", workflows.PartnerApprove, workflows.Decision{Actor: "operator@temporal-ui"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the signal's approval to be stored", func() bool {
		r := do(t, call{method: "GET", path: "/v1/partners/" + id, key: f.manager})
		return r.str("status") == "awaiting_agreement" && r.str("decided_by") == "operator@temporal-ui"
	})
	// A second decision by signal is dropped, and the API still refuses one.
	_ = sys.temporal.SignalWorkflow(ctx, "partner-"+id, "", workflows.PartnerReject, workflows.Decision{Actor: "late", Reason: "x"})
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "x"}}), http.StatusConflict)
	if r := do(t, call{method: "GET", path: "/v1/partners/" + id, key: f.manager}); r.str("status") != "awaiting_agreement" {
		t.Fatalf("after late signal: %s", r.raw)
	}
	// The partner's key is issued separately when approval came by signal.
	key := expect(t, do(t, call{method: "POST", path: "/v1/keys", key: f.admin, body: map[string]any{"role": "partner", "partner_id": id}}), http.StatusCreated).str("key")
	expect(t, do(t, call{method: "POST", path: "/v1/me/agreement", key: key, body: map[string]any{"version": "2026-01"}}), http.StatusOK)
	if r := do(t, call{method: "GET", path: "/v1/me", key: key}); r.str("status") != "active" {
		t.Fatalf("creator after agreement: %s", r.raw)
	}
}
