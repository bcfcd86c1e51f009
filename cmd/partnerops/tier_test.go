package main

import (
	"context"
	"net/http"
	"testing"
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
