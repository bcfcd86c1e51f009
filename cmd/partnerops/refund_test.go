//go:build e2e

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Random partial refunds of sales whose 12.5 % commission line is open, frozen in
// a close under review, carried (under the minimum) or paid: after every part the
// line's clawbacks are within half a cent of line × refunded ÷ sale and never
// more than the line; once the whole sale is refunded the sale's lines net to
// exactly zero (2.53 refunded in two halves is 1.26 + 1.27, not 1.26 twice).
func TestPartialRefundsNetExactly(t *testing.T) {
	seed := moneySeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 25))
	states := []string{"Open", "Frozen", "Carried", "Paid"}
	f := newMoneyFixture(t, states...)
	for _, name := range states {
		f.payTo(t, name, fmt.Sprintf("acct_refund%s", name))
		expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: map[string]any{"program_id": f.programID, "partner_id": f.ids[name],
			"event": "sale", "kind": "percent", "rate": "0.125", "effective_from": time.Now().AddDate(0, -8, 0).UTC().Format(time.RFC3339)}}), http.StatusCreated)
	}
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	m1 := thisMonth.AddDate(0, -1, 0).AddDate(0, 0, 9)

	type sale struct {
		ext, id         string
		amount, line    decimal.Decimal
		refunded, parts decimal.Decimal
	}
	sales := map[string][]*sale{}
	add := func(name, amount string, at time.Time) *sale {
		r := expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": "EUR",
			"external_id": "s-" + uuid.NewString()[:8], "kind": "sale", "amount": amount, "coupon_code": f.coupons[name], "occurred_at": at.Format(time.RFC3339)}}), http.StatusCreated)
		s := &sale{ext: r.str("external_id"), id: r.str("id"), amount: decimal.RequireFromString(amount)}
		s.line = decimal.RequireFromString(r.body["commission_lines"].([]any)[0].(map[string]any)["amount"].(string))
		return s
	}
	// The sale first; then random amounts (Carried stays under the 50.00 minimum).
	sales["Frozen"] = append(sales["Frozen"], add("Frozen", "20.24", m1))
	for _, name := range states {
		at, hi := m1, 40000
		switch name {
		case "Open":
			at = time.Now().UTC().Add(-time.Hour)
		case "Carried":
			hi = 12000
		case "Paid":
			add(name, "1000.00", m1) // 125.00: over the minimum, never refunded
		}
		for range 3 {
			cents := 1000 + rng.IntN(hi-1000)
			sales[name] = append(sales[name], add(name, fmt.Sprintf("%d.%02d", cents/100, cents%100), at))
		}
	}
	if got := sales["Frozen"][0].line.String(); got != "2.53" {
		t.Fatalf("12.5 %% of 20.24: %s", got)
	}

	// netted answers a sale's lines: the sum of those not void, and what its
	// clawbacks took back.
	netted := func(s *sale) (net, clawed decimal.Decimal) {
		err := sys.store.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(amount) FILTER (WHERE status <> 'void'), 0)::text,
			coalesce(-sum(amount) FILTER (WHERE status <> 'void' AND kind = 'clawback'), 0)::text
			FROM commission_lines WHERE source_type = 'conversion' AND source_id = $1`, s.id).Scan(&net, &clawed)
		if err != nil {
			t.Fatal(err)
		}
		return net, clawed
	}
	half := decimal.New(5, -3)
	refundAll := func(name string) {
		for i, s := range sales[name] {
			for s.refunded.LessThan(s.amount) {
				left := s.amount.Sub(s.refunded)
				part := left
				if name == "Frozen" && i == 0 { // the two halves
					part = decimal.RequireFromString("10.12")
				} else if n := left.Shift(2).IntPart(); n > 1 && rng.IntN(4) != 0 {
					part = decimal.New(1+rng.Int64N(n-1), -2)
				}
				expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": "EUR",
					"external_id": "r-" + uuid.NewString()[:8], "kind": "refund", "refund_of": s.ext, "amount": part.StringFixed(2), "occurred_at": time.Now().UTC().Format(time.RFC3339)}}), http.StatusCreated)
				s.refunded = s.refunded.Add(part)
				net, clawed := netted(s)
				exact := s.line.Mul(s.refunded).Div(s.amount)
				if s.refunded.LessThan(s.amount) && (clawed.Sub(exact).Abs().GreaterThan(half) || clawed.GreaterThan(s.line)) {
					t.Fatalf("%s: line %s of sale %s, %s refunded: clawed back %s (net %s), want %s ± 0.005 (seed %d)", name, s.line, s.amount, s.refunded, clawed, net, exact, seed)
				}
			}
			if net, _ := netted(s); !net.IsZero() {
				t.Fatalf("%s: line %s of sale %s refunded in full nets to %s, not 0.00 (seed %d)", name, s.line, s.amount, net, seed)
			}
		}
	}

	refundAll("Open")
	close1, _ := f.closeMonth(t, m1.AddDate(0, 0, -9))
	refundAll("Frozen") // clawbacks join the close under review
	r := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1, key: f.finance}), http.StatusOK)
	for _, st := range r.body["statements"].([]any) {
		if m := st.(map[string]any); m["partner_id"] == f.ids["Frozen"] && m["total"] != "0.00" {
			t.Fatalf("Frozen's statement after full refunds in review: %v", m)
		}
	}
	f.signOff(t, close1)
	refundAll("Carried")
	refundAll("Paid")
	checkMoneyInvariants(t, f.programID)
	if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + close1 + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
		t.Fatalf("recompute: %s", rc.raw)
	}
}

// One rule for every currency: an amount is rounded once, to its currency's
// minor unit, and the money columns (two decimals) hold it as it is. JPY has no
// decimals, USD two; BHD's three the columns cannot hold, so a program in BHD is
// refused (never rounded a second time by the column).
func TestMoneyIsRoundedOnceInItsCurrency(t *testing.T) {
	admin := newKey(t, "admin", uuid.Nil)
	for code, want := range map[string]string{"BHD": "unsupported_currency", "KWD": "unsupported_currency", "TND": "unsupported_currency", "ABC": "unknown_currency"} {
		r := do(t, call{method: "POST", path: "/v1/programs", key: admin, body: map[string]any{"name": "Program " + uuid.NewString()[:8], "kind": "affiliate", "currency": code}})
		if r.status != http.StatusUnprocessableEntity || r.str("error", "code") != want || r.str("error", "field") != "currency" {
			t.Fatalf("a program in %s: %d %s", code, r.status, r.raw)
		}
	}
	for _, tt := range []struct {
		currency, sale, line, half, clawback, fraction string
	}{
		{"JPY", "1001", "125.00", "500", "-62.00", "1000.5"}, // 125.125 → 125; 125 × 500 ÷ 1001 = 62.44 → 62
		{"USD", "20.24", "2.53", "10.12", "-1.26", "20.245"}, // 2.53 × 10.12 ÷ 20.24 = 1.265 → 1.26 (half to even)
	} {
		f := newMoneyFixtureIn(t, tt.currency, "A")
		expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: map[string]any{"program_id": f.programID, "partner_id": f.ids["A"],
			"event": "sale", "kind": "percent", "rate": "0.125", "effective_from": time.Now().AddDate(0, -8, 0).UTC().Format(time.RFC3339)}}), http.StatusCreated)
		bad := do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": tt.currency,
			"external_id": "frac", "kind": "sale", "amount": tt.fraction, "coupon_code": f.coupons["A"], "occurred_at": time.Now().UTC().Format(time.RFC3339)}})
		if bad.status != http.StatusUnprocessableEntity || bad.str("error", "field") != "amount" {
			t.Fatalf("%s %s: %d %s", tt.currency, tt.fraction, bad.status, bad.raw)
		}
		r := expect(t, do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID, "currency": tt.currency,
			"external_id": "s1", "kind": "sale", "amount": tt.sale, "coupon_code": f.coupons["A"], "occurred_at": time.Now().UTC().Format(time.RFC3339)}}), http.StatusCreated)
		if got := r.body["commission_lines"].([]any)[0].(map[string]any)["amount"]; got != tt.line {
			t.Fatalf("%s: the line of %s is %v, want %s", tt.currency, tt.sale, got, tt.line)
		}
		f.refund(t, "s1", tt.half, time.Now().UTC())
		var claw string
		if err := sys.store.Pool.QueryRow(context.Background(), `SELECT amount::text FROM commission_lines WHERE program_id = $1 AND kind = 'clawback'`, f.programID).Scan(&claw); err != nil || claw != tt.clawback {
			t.Fatalf("%s: the clawback of half is %s (%v), want %s", tt.currency, claw, err, tt.clawback)
		}
	}
}
