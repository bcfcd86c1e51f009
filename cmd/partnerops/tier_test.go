//go:build e2e

package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
)

// A manager moves an onboarded partner to another tier of its program: the
// reason goes into its timeline and the audit log, and the partner is told.
func TestPartnerTierMoves(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	prog := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK)
	var gold string
	for _, tr := range prog.body["tiers"].([]any) {
		if tr.(map[string]any)["name"] == "Gold" {
			gold = tr.(map[string]any)["id"].(string)
		}
	}
	other := newProgram(t)
	otherTiers := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + other.programID, key: f.admin}), http.StatusOK).body["tiers"].([]any)
	path := "/v1/partners/" + partnerID + "/tier"

	// Bad requests change nothing.
	expect(t, do(t, call{method: "PUT", path: path, key: f.manager, body: map[string]any{"tier_id": gold}}), http.StatusUnprocessableEntity)
	r := do(t, call{method: "PUT", path: path, key: f.manager, body: map[string]any{"tier_id": otherTiers[1].(map[string]any)["id"], "reason": "x"}})
	if _, field := r.errCode(); r.status != http.StatusUnprocessableEntity || field != "tier_id" {
		t.Fatalf("another program's tier: %d %s", r.status, r.raw)
	}
	expect(t, do(t, call{method: "PUT", path: path, key: partnerKey, body: map[string]any{"tier_id": gold, "reason": "I deserve it"}}), http.StatusForbidden)
	expect(t, do(t, call{method: "PUT", path: path, key: f.finance, body: map[string]any{"tier_id": gold, "reason": "x"}}), http.StatusForbidden)

	moved := expect(t, do(t, call{method: "PUT", path: path, key: f.manager, body: map[string]any{"tier_id": gold, "reason": "closed 1.2M this year"}}), http.StatusOK)
	if moved.str("tier", "name") != "Gold" || moved.str("status") != "active" {
		t.Fatalf("moved: %s", moved.raw)
	}
	full := expect(t, do(t, call{method: "GET", path: "/v1/partners/" + partnerID, key: f.manager}), http.StatusOK)
	timeline, _ := full.body["timeline"].([]any)
	if len(timeline) == 0 {
		t.Fatalf("no timeline: %s", full.raw)
	}
	last := timeline[len(timeline)-1].(map[string]any)
	if last["kind"] != "tier_changed" || last["reason"] != "to Gold: closed 1.2M this year" {
		t.Fatalf("timeline: %v", last)
	}
	expect(t, do(t, call{method: "PUT", path: path, key: f.manager, body: map[string]any{"tier_id": gold, "reason": "again"}}), http.StatusConflict)
	var audited int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events WHERE record_id = $1 AND action = 'partner.set-tier' AND outcome = 'applied'", partnerID).Scan(&audited)
	if audited != 1 {
		t.Fatalf("%d audit events", audited)
	}
	eventually(t, "the partner told", func() bool {
		n := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: partnerKey}), http.StatusOK).body["data"].([]any)
		return len(n) > 0 && n[0].(map[string]any)["kind"] == "tier_changed" && n[0].(map[string]any)["message"] == "You are now in the Gold tier: closed 1.2M this year"
	})
	// A partner still in review has no tier to move.
	pending := apply(t, f, "reseller")
	expect(t, do(t, call{method: "PUT", path: "/v1/partners/" + pending + "/tier", key: f.admin, body: map[string]any{"tier_id": gold, "reason": "early"}}), http.StatusConflict)
}

// The tier review, end to end on the real server: a reseller whose won deals
// reach Silver's criteria is promoted by TierReviewWorkflow and told; one below
// its tier is warned, not moved.
func TestTierReviewPromotesAndWarns(t *testing.T) {
	ctx := context.Background()
	f := fixture{admin: newKey(t, domain.RoleAdmin, uuid.Nil), manager: newKey(t, domain.RoleManager, uuid.Nil), finance: newKey(t, domain.RoleFinance, uuid.Nil)}
	r := expect(t, do(t, call{method: "POST", path: "/v1/programs", key: f.admin, body: map[string]any{
		"name": "Tiers " + uuid.NewString()[:8], "kind": "channel", "currency": "EUR", "tier_review_grace_days": 60, "agreement_version": "2026-01",
		"tiers": []map[string]any{
			{"name": "Registered", "rank": 0},
			{"name": "Silver", "rank": 1, "min_won_revenue": "40000.00"},
			{"name": "Gold", "rank": 2, "min_won_revenue": "250000.00", "required_certifications": []string{"gold-technical"}},
		},
		"certifications": map[string][]string{"reseller": {"sales-fundamentals"}},
	}}), http.StatusCreated)
	f.programID = r.str("id")
	tierID := map[string]string{}
	for _, tr := range r.body["tiers"].([]any) {
		tierID[tr.(map[string]any)["name"].(string)] = tr.(map[string]any)["id"].(string)
		if tr.(map[string]any)["name"] == "Silver" && tr.(map[string]any)["min_won_revenue"] != "40000.00" {
			t.Fatalf("criteria not stored: %v", tr)
		}
	}
	winner, winnerKey := activePartner(t, f, "reseller")
	idle, idleKey := activePartner(t, f, "reseller")
	// The winner closes 48,000; the idle one is in Silver (a manager put it there) with nothing won.
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: winnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won", key: f.manager, body: map[string]any{"final_amount": "48000.00"}}), http.StatusOK)
	expect(t, do(t, call{method: "PUT", path: "/v1/partners/" + idle + "/tier", key: f.manager, body: map[string]any{"tier_id": tierID["Silver"], "reason": "pilot"}}), http.StatusOK)

	run, err := sys.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "test-tier-review-" + f.programID, TaskQueue: workflows.TaskQueue}, workflows.TierReviewWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var told int
	if err := run.Get(ctx, &told); err != nil || told < 2 {
		t.Fatalf("the review told %d partners: %v", told, err)
	}
	eventually(t, "the winner promoted to Silver", func() bool {
		return expect(t, do(t, call{method: "GET", path: "/v1/partners/" + winner, key: f.manager}), http.StatusOK).str("tier", "name") == "Silver"
	})
	eventually(t, "the idle partner warned", func() bool {
		n := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: idleKey}), http.StatusOK).body["data"].([]any)
		return len(n) > 0 && n[0].(map[string]any)["kind"] == "tier_warning"
	})
	if got := expect(t, do(t, call{method: "GET", path: "/v1/partners/" + idle, key: f.manager}), http.StatusOK).str("tier", "name"); got != "Silver" {
		t.Fatalf("the idle partner moved at once: %s", got)
	}
	n := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: winnerKey}), http.StatusOK).body["data"].([]any)
	if len(n) == 0 || n[0].(map[string]any)["message"] != "You are now in the Silver tier: qualifies at the tier review" {
		t.Fatalf("the winner was not told: %v", n)
	}
}
