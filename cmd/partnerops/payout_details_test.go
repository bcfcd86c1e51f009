//go:build e2e

package main

// Payout details that changed are never paid before finance confirms them, at
// every point a change can land: before the statements are computed, while the
// close is in review, after sign-off before the transfer, and before the retry
// of a failed payout. Each held payout is paid after confirmation — in a later
// close, or when its waiting payout workflow is told — and only to the version
// finance confirmed.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
)

func (f moneyFixture) confirmDetails(t *testing.T, name string, version int) response {
	t.Helper()
	return expect(t, do(t, call{method: "POST", path: "/v1/partners/" + f.ids[name] + "/payout-details/confirm", key: f.finance,
		body: map[string]any{"version": version}}), http.StatusOK)
}

// heldFor lists the partners a close shows as held for changed details, by name and version.
func (f moneyFixture) heldFor(r response) []string {
	var out []string
	for _, h := range r.body["held_for_details"].([]any) {
		m := h.(map[string]any)
		for name, id := range f.ids {
			if id == m["partner_id"] {
				out = append(out, fmt.Sprintf("%s v%v", name, m["version"]))
			}
		}
	}
	slices.Sort(out)
	return out
}

// payoutOfPartner answers the partner's payout of a close ("" when none).
func (f moneyFixture) payoutOfPartner(t *testing.T, closeID, name string) map[string]any {
	t.Helper()
	r := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + closeID, key: f.finance}), http.StatusOK)
	for _, p := range r.body["payouts"].([]any) {
		if m := p.(map[string]any); m["partner_id"] == f.ids[name] {
			return m
		}
	}
	return nil
}

// noTransferToUnconfirmedDetails: every transfer the provider received went to a
// version of payout details that finance had confirmed (or that was a partner's
// first) before the transfer was made.
func noTransferToUnconfirmedDetails(t *testing.T, since int) {
	t.Helper()
	for _, tr := range sys.pay.Transfers()[since:] {
		var ok bool
		err := sys.store.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM payout_details d JOIN payouts p ON p.partner_id = d.partner_id
			WHERE p.id = $1::uuid AND d.destination = $2 AND d.confirmed_at IS NOT NULL AND d.confirmed_at <= $3)`, tr.Reference, tr.Destination, tr.CreatedAt).Scan(&ok)
		if err != nil || !ok {
			t.Fatalf("transfer %s of %s went to %q, not to details confirmed before it (%v)", tr.ID, tr.Amount, tr.Destination, err)
		}
	}
}

func TestChangedPayoutDetailsAreNeverPaidUnconfirmed(t *testing.T) {
	fillers := []string{"F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10"}
	f := newMoneyFixture(t, append([]string{"Before", "Review", "Retry"}, fillers...)...)
	for name := range f.ids {
		f.payTo(t, name, "acct_"+strings.ToLower(name)+"0001")
	}
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	m1, m2, m3 := thisMonth.AddDate(0, -3, 0), thisMonth.AddDate(0, -2, 0), thisMonth.AddDate(0, -1, 0)
	day := func(m time.Time) time.Time { return m.AddDate(0, 0, 9).Add(12 * time.Hour) }
	before := len(sys.pay.Transfers())
	for name := range f.ids {
		if name != "Retry" {
			f.sale(t, name, "m1-"+name, "1000.00", day(m1)) // 100.00 each
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)

	// 1. Changed before the statements are computed: held in its statement.
	f.payTo(t, "Before", "acct_before0002")
	close1, r := f.closeMonth(t, m1)
	held := "in=0.00 com=100.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=100.00 pay=0.00 out=100.00 (payout details changed on " + today + ")"
	if got := f.statementsBy(r)["Before"]; got != held {
		t.Fatalf("changed before compute:\n got %s\nwant %s", got, held)
	}

	// 2. Changed while the close is in review: its statement is recomputed as held
	// at once, and finance sees both on the close.
	f.payTo(t, "Review", "acct_review0002")
	r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1, key: f.finance}), http.StatusOK)
	if got := f.statementsBy(r)["Review"]; got != held {
		t.Fatalf("changed in review:\n got %s\nwant %s", got, held)
	}
	if got := f.heldFor(r); !slices.Equal(got, []string{"Before v2", "Review v2"}) {
		t.Fatalf("held for details: %v", got)
	}
	// Finance checks Before's new account and confirms that version in review:
	// its statement pays again in this close. A stale version is refused.
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + f.ids["Before"] + "/payout-details/confirm", key: f.finance, body: map[string]any{"version": 1}}), http.StatusConflict)
	if d := f.confirmDetails(t, "Before", 2); d.body["held_for_review"] != false || d.body["version"] != float64(2) {
		t.Fatalf("confirmed: %s", d.raw)
	}
	r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1, key: f.finance}), http.StatusOK)
	if got := f.statementsBy(r)["Before"]; got != "in=0.00 com=100.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=100.00 pay=100.00 out=0.00" {
		t.Fatalf("Before after confirmation: %s", got)
	}

	// 3. Changed after sign-off, before the transfer: payouts run ten at a time and
	// wait for the provider's callback, so the eleventh (by partner id) is sent
	// two seconds after sign-off; its partner changes its details meanwhile.
	var payable []string
	for name := range f.ids {
		if name != "Review" && name != "Retry" {
			payable = append(payable, name)
		}
	}
	late := slices.MaxFunc(payable, func(a, b string) int { return strings.Compare(f.ids[a], f.ids[b]) })
	sys.pay.SetMode(fakepay.Mode{CallbackDelay: 2 * time.Second})
	defer sys.pay.SetMode(fakepay.Mode{})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + close1 + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	f.payTo(t, late, "acct_late0002")
	eventually(t, "the late payout to be held", func() bool {
		p := f.payoutOfPartner(t, close1, late)
		return p != nil && p["status"] == "held" && strings.Contains(fmt.Sprint(p["held_reason"]), "held until finance confirms")
	})
	eventually(t, "the other payouts to be paid", func() bool {
		n := 0
		for _, name := range payable {
			if p := f.payoutOfPartner(t, close1, name); p != nil && p["status"] == "paid" {
				n++
			}
		}
		return n == len(payable)-1
	})
	r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1, key: f.finance}), http.StatusOK)
	if r.str("status") != "paying" || !slices.Contains(f.heldFor(r), late+" v2") {
		t.Fatalf("the close while %s is held: %s %v", late, r.str("status"), f.heldFor(r))
	}
	noTransferToUnconfirmedDetails(t, before)
	// Finance confirms: the waiting payout is prepared again and paid to the new account.
	f.confirmDetails(t, late, 2)
	r = waitClose(t, f.finance, close1, "completed")
	if p := f.payoutOfPartner(t, close1, late); p["status"] != "paid" || p["amount"] != "100.00" {
		t.Fatalf("the late payout after confirmation: %v", p)
	}
	if got := paidPayouts(r); len(got) != len(payable) || got[f.ids["Review"]] != "" {
		t.Fatalf("month 1 payouts: %v", got)
	}
	var lateDest string
	for _, tr := range sys.pay.Transfers()[before:] {
		if tr.Reference == fmt.Sprint(f.payoutOfPartner(t, close1, late)["id"]) {
			lateDest = tr.Destination
		}
	}
	if lateDest != "acct_late0002" {
		t.Fatalf("%s was paid to %q", late, lateDest)
	}
	// Every payout names the version it paid, and paid that one.
	var unpinned, mismatched int
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE payout_details_id IS NULL),
		count(*) FILTER (WHERE payout_details_id IS NOT NULL AND payout_details_id <> (SELECT d.id FROM payout_details d WHERE d.partner_id = payouts.partner_id AND d.confirmed_at IS NOT NULL ORDER BY d.version DESC LIMIT 1))
		FROM payouts WHERE close_id = $1`, close1).Scan(&unpinned, &mismatched); err != nil || unpinned != 0 || mismatched != 0 {
		t.Fatalf("payouts without their version: %d, not on the confirmed one: %d (%v)", unpinned, mismatched, err)
	}
	recordHistory(t, fmt.Sprint(f.payoutOfPartner(t, close1, late)["workflow_id"]), "payout-held-then-paid")
	recordHistory(t, r.str("workflow_id"), "close-with-held-payout")
	sys.pay.SetMode(fakepay.Mode{})

	// Review's held statement is carried; confirmed after the close, it is paid in the next.
	f.confirmDetails(t, "Review", 2)
	close2, r := f.closeMonth(t, m2)
	if got := f.statementsBy(r)["Review"]; got != "in=100.00 com=0.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=100.00 pay=100.00 out=0.00" {
		t.Fatalf("Review in month 2: %s", got)
	}
	if got := paidPayouts(f.signOff(t, close2)); len(got) != 1 || got[f.ids["Review"]] != "100.00 paid" {
		t.Fatalf("month 2 payouts: %v", got)
	}

	// 4. A payout fails; the partner changes its details; finance retries: the
	// retry waits, held, until finance confirms, then pays the confirmed version.
	f.sale(t, "Retry", "m3-retry", "700.00", day(m3)) // 70.00
	close3, _ := f.closeMonth(t, m3)
	sys.pay.SetMode(fakepay.Mode{Fail: true})
	r = f.signOff(t, close3)
	sys.pay.SetMode(fakepay.Mode{})
	failed := f.payoutOfPartner(t, close3, "Retry")
	if failed["status"] != "failed" {
		t.Fatalf("the declined payout: %v", failed)
	}
	f.payTo(t, "Retry", "acct_retry0002")
	sent := len(sys.pay.Transfers())
	expect(t, do(t, call{method: "POST", path: "/v1/payouts/" + failed["id"].(string) + "/retry", key: f.finance}), http.StatusAccepted)
	eventually(t, "the retried payout to be held", func() bool { return f.payoutOfPartner(t, close3, "Retry")["status"] == "held" })
	time.Sleep(300 * time.Millisecond)
	if n := len(sys.pay.Transfers()) - sent; n != 0 {
		t.Fatalf("%d transfers while the retry is held", n)
	}
	f.confirmDetails(t, "Retry", 2)
	eventually(t, "the retried payout to be paid", func() bool { return f.payoutOfPartner(t, close3, "Retry")["status"] == "paid" })
	if trs := sys.pay.Transfers()[sent:]; len(trs) != 1 || trs[0].Destination != "acct_retry0002" || trs[0].Amount != "70.00" {
		t.Fatalf("the retry's transfers: %+v", trs)
	}
	noTransferToUnconfirmedDetails(t, before)
	checkMoneyInvariants(t, f.programID)

	// The audit: each completed close recomputes to what it stored, after the
	// later closes paid what it carried and finance confirmed what it held.
	for _, id := range []string{close1, close2, close3} {
		if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
			t.Fatalf("recompute of %s: %s", id, rc.raw)
		}
	}
	// The partner reads its details back masked, with the version and who confirmed it.
	d := expect(t, do(t, call{method: "GET", path: "/v1/me/payout-details", key: f.keys["Retry"]}), http.StatusOK)
	if d.body["version"] != float64(2) || d.body["held_for_review"] != false || strings.Contains(string(d.raw), "acct_retry0002") {
		t.Fatalf("details read back: %s", d.raw)
	}
}

// A change of payout details and finance's confirmation race the close's own
// writes for the same partner (adjustments, which insert a line naming the
// partner while holding the close): none waits on the other in a circle, so
// every answer is a success, never a deadlock's 503.
func TestPayoutDetailChangesRaceTheCloseWithoutDeadlock(t *testing.T) {
	f := newMoneyFixture(t, "A")
	f.payTo(t, "A", "acct_racer000000")
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	m1 := thisMonth.AddDate(0, -1, 0)
	f.sale(t, "A", "race-1", "1000.00", m1.AddDate(0, 0, 9))
	closeID, _ := f.closeMonth(t, m1)
	var calls []call
	for i := range 12 {
		calls = append(calls,
			call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"], body: map[string]any{"method": "provider", "account_id": fmt.Sprintf("acct_racer%06d", i+1)}},
			call{method: "POST", path: "/v1/closes/" + closeID + "/adjustments", key: f.finance, body: map[string]any{"partner_id": f.ids["A"], "amount": "1.00", "reason": "race"}},
			call{method: "POST", path: "/v1/partners/" + f.ids["A"] + "/payout-details/confirm", key: f.finance, body: map[string]any{}})
	}
	for i, r := range burst(calls) {
		if r.err != nil || r.status >= 300 {
			t.Fatalf("request %d (%s %s): %v %d %s", i, calls[i].method, calls[i].path, r.err, r.status, r.raw)
		}
	}
	// The close's statements still add up to its lines after all that.
	if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + closeID + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
		t.Fatalf("recompute: %s", rc.raw)
	}
}
