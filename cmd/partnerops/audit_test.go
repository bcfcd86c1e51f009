//go:build e2e

package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// The audit log: decisions (applied and refused), key and setting changes, with
// the request id the caller saw; admins only, filtered and paginated.
func TestAuditLog(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	rid := "req-" + id[:8]
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{"reason": "looks good"},
		headers: map[string]string{"X-Request-Id": rid}}), http.StatusOK)
	refused := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "late"}}), http.StatusConflict)
	if refused.str("error", "request_id") == "" || refused.header.Get("X-Request-Id") != refused.str("error", "request_id") {
		t.Fatalf("refusal without its request id: %v %s", refused.header, refused.raw)
	}
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/payouts", key: f.admin,
		body: map[string]any{"payout_minimum": "25.00", "payout_provider": "file"}}), http.StatusOK)

	log := expect(t, do(t, call{method: "GET", path: "/v1/audit?record_id=" + id, key: f.admin}), http.StatusOK)
	events := log.body["data"].([]any)
	if len(events) != 2 {
		t.Fatalf("audit of the partner: %s", log.raw)
	}
	newest, oldest := events[0].(map[string]any), events[1].(map[string]any)
	if oldest["action"] != "partner.approve" || oldest["outcome"] != "applied" || oldest["request_id"] != rid || oldest["reason"] != "looks good" ||
		newest["action"] != "partner.reject" || newest["outcome"] != "refused" || newest["request_id"] != refused.str("error", "request_id") {
		t.Fatalf("audit events: %s", log.raw)
	}
	settings := expect(t, do(t, call{method: "GET", path: "/v1/audit?record_type=program&action=program.update_payouts&record_id=" + f.programID, key: f.admin}), http.StatusOK)
	if d := settings.body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["detail"].(map[string]any)["payout_minimum"] != "25.00" {
		t.Fatalf("settings change: %s", settings.raw)
	}
	page := expect(t, do(t, call{method: "GET", path: "/v1/audit?record_id=" + id + "&limit=1", key: f.admin}), http.StatusOK)
	next := expect(t, do(t, call{method: "GET", path: "/v1/audit?record_id=" + id + "&limit=1&cursor=" + page.str("next_cursor"), key: f.admin}), http.StatusOK)
	if next.body["data"].([]any)[0].(map[string]any)["action"] != "partner.approve" {
		t.Fatalf("second page: %s", next.raw)
	}
	for _, k := range []string{f.manager, f.finance} {
		expect(t, do(t, call{method: "GET", path: "/v1/audit", key: k}), http.StatusForbidden)
	}
}

// Whoever holds a signing secret can forge signed conversions: only admins read them.
func TestSigningSecretsOnlyForAdmins(t *testing.T) {
	f := newProgram(t)
	secret := expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/signing-secrets", key: f.admin}), http.StatusCreated).str("secret")
	for _, k := range []string{f.manager, f.finance} {
		one := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: k}), http.StatusOK)
		list := expect(t, do(t, call{method: "GET", path: "/v1/programs?limit=200", key: k}), http.StatusOK)
		if len(one.body["signing_secrets"].([]any)) != 0 || bytesContain(list.raw, secret) || bytesContain(one.raw, secret) {
			t.Fatalf("a non-admin reads the secret: %s", one.raw)
		}
	}
	if admin := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK); !bytesContain(admin.raw, secret) {
		t.Fatalf("the admin does not see the secret: %s", admin.raw)
	}
}

func bytesContain(b []byte, s string) bool { return s != "" && strings.Contains(string(b), s) }

// make run keeps closed workflows' histories 30 days.
func TestDevRetention(t *testing.T) {
	ctx := context.Background()
	if err := ensureRetention(ctx, sys.temporal, "default", devRetention); err != nil {
		t.Fatal(err)
	}
	ns, err := sys.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 30*24*time.Hour {
		t.Fatalf("retention %s", got)
	}
}
