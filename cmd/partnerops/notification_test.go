//go:build e2e

package main

import (
	"net/http"
	"testing"
)

// What the processes tell a partner is readable by that partner (and by staff),
// never by another partner.
func TestNotificationsAreReadable(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	_, otherKey := activePartner(t, f, "reseller")
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	for range 2 { // reported won and not confirmed, twice: four notifications
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won", key: partnerKey, body: map[string]any{"final_amount": "50000.00"}}), http.StatusOK)
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/reject", key: f.manager, body: map[string]any{"reason": "not in our books"}}), http.StatusOK)
	}

	var mine response
	eventually(t, "the partner's notification", func() bool {
		mine = expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: partnerKey}), http.StatusOK)
		return len(mine.body["data"].([]any)) == 2
	})
	n := mine.body["data"].([]any)[0].(map[string]any)
	if n["recipient"] != partnerID || n["subject_id"] != deal || n["subject_type"] != "deal" || n["message"] != "Your won report was not confirmed: not in our books" {
		t.Fatalf("notification: %s", mine.raw)
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: otherKey}), http.StatusOK); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("another partner reads them: %s", r.raw)
	}
	// Staff read by recipient: the manager was told of the won report.
	staff := expect(t, do(t, call{method: "GET", path: "/v1/notifications?recipient=" + partnerID + "&limit=1", key: f.manager}), http.StatusOK)
	if d := staff.body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != n["id"] {
		t.Fatalf("staff by recipient: %s", staff.raw)
	}
	managers := expect(t, do(t, call{method: "GET", path: "/v1/notifications?recipient=manager&limit=200", key: f.finance}), http.StatusOK)
	found := false
	for _, x := range managers.body["data"].([]any) {
		found = found || x.(map[string]any)["subject_id"] == deal
	}
	if !found {
		t.Fatalf("the manager's won-report notification is not listed: %.300s", managers.raw)
	}
	// Pages: newest first, the cursor goes on where the page ended.
	first := expect(t, do(t, call{method: "GET", path: "/v1/notifications?limit=2", key: f.admin}), http.StatusOK)
	next := expect(t, do(t, call{method: "GET", path: "/v1/notifications?limit=2&cursor=" + first.str("next_cursor"), key: f.admin}), http.StatusOK)
	a, b := first.body["data"].([]any), next.body["data"].([]any)
	if first.body["has_more"] != true || len(b) == 0 || a[1].(map[string]any)["id"].(float64) <= b[0].(map[string]any)["id"].(float64) {
		t.Fatalf("pages: %s then %s", first.raw, next.raw)
	}
	// Roles and bad input.
	expect(t, do(t, call{method: "GET", path: "/v1/notifications", key: partnerKey}), http.StatusForbidden)
	expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: f.manager}), http.StatusForbidden)
	expect(t, do(t, call{method: "GET", path: "/v1/notifications?recipient=everyone", key: f.admin}), http.StatusBadRequest)
	expect(t, do(t, call{method: "GET", path: "/v1/notifications?cursor=nope", key: f.admin}), http.StatusBadRequest)
}
