package domain

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Property: over random sequences of MDF operations, every entry balances, the
// derived balances equal the sum of all postings, no account but the budget ever
// goes negative, and every allocated unit is somewhere.
func TestLedgerInvariantsOverRandomOperations(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 42))
		b := Balances{}
		var all []Entry
		// Open requests: reserved, approved and claimed amounts per request.
		type req struct{ reserved, approved, claimed decimal.Decimal }
		var reqs []*req
		expired := false
		amt := func(max decimal.Decimal) decimal.Decimal {
			if !max.IsPositive() {
				return decimal.NewFromInt(1)
			}
			cents := max.Shift(2).IntPart()
			return decimal.New(rng.Int64N(cents)+1, -2)
		}
		for step := 0; step < 60; step++ {
			if op := rng.IntN(20); op == 0 && !expired {
				if x, ok := Expire(b); ok {
					if !x.Balanced() {
						t.Fatalf("seed %d: unbalanced expiry %+v", seed, x)
					}
					b.Apply(x)
					all = append(all, x)
				}
				expired = true
			}
			var e Entry
			var err error
			switch op := rng.IntN(9); {
			case op == 0:
				e, err = Allocate(decimal.New(rng.Int64N(1_000_000)+1, -2))
			case op <= 2:
				a := amt(b[AccAvailable].Add(decimal.NewFromInt(50))) // sometimes more than available
				e, err = Reserve(b, a)
				var insufficient *ErrInsufficientFunds
				if errors.As(err, &insufficient) {
					if a.LessThanOrEqual(b[AccAvailable]) {
						t.Fatalf("seed %d: refused %s with %s available", seed, a, b[AccAvailable])
					}
					continue
				}
				if err == nil {
					reqs = append(reqs, &req{reserved: a})
				}
			case len(reqs) == 0:
				continue
			default:
				r := reqs[rng.IntN(len(reqs))]
				switch {
				case r.reserved.IsPositive() && op%2 == 0:
					ap := amt(r.reserved)
					e, err = PreApprove(b, r.reserved, ap, expired)
					r.reserved, r.approved = decimal.Zero, ap
				case r.reserved.IsPositive():
					e, err = Release(b, AccReserved, r.reserved, expired)
					r.reserved = decimal.Zero
				case r.approved.IsPositive() && r.claimed.IsZero():
					c := amt(r.approved)
					e, err = Claim(b, c)
					r.approved, r.claimed = r.approved.Sub(c), c
				case r.claimed.IsPositive():
					acc := amt(r.claimed)
					e, err = ApproveClaim(b, r.claimed, acc, r.approved, expired)
					r.claimed, r.approved = decimal.Zero, decimal.Zero
				default:
					continue
				}
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if len(e.Postings) == 0 {
				continue
			}
			if !e.Balanced() {
				t.Fatalf("seed %d: unbalanced %+v", seed, e)
			}
			b.Apply(e)
			all = append(all, e)
			for acc, v := range b {
				if acc != AccBudget && v.IsNegative() {
					t.Fatalf("seed %d: %s went negative (%s) after %s", seed, acc, v, e.Kind)
				}
			}
		}
		sums := Balances{}
		for _, e := range all {
			sums.Apply(e)
		}
		for acc, v := range b {
			if !sums[acc].Equal(v) {
				t.Fatalf("seed %d: %s derived %s, sum of entries %s", seed, acc, v, sums[acc])
			}
		}
		m := b.MDF("USD")
		if total := m.Available.Add(m.Reserved.Decimal).Add(m.Approved.Decimal).Add(m.Claimed.Decimal).Add(m.Reimbursable.Decimal).Add(m.Reimbursed.Decimal).Add(m.Expired.Decimal); !total.Equal(m.Allocated.Decimal) {
			t.Fatalf("seed %d: allocated %s but accounts hold %s", seed, m.Allocated, total)
		}
	}
}

func TestLedgerOperations(t *testing.T) {
	d := decimal.RequireFromString
	b := Balances{}
	apply := func(e Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b.Apply(e)
	}
	apply(Allocate(d("10000")))
	apply(Reserve(b, d("4000")))
	if _, err := Reserve(b, d("6000.01")); err == nil {
		t.Fatal("overspent")
	}
	apply(PreApprove(b, d("4000"), d("3000"), false)) // partial: 1000 back to available
	apply(Claim(b, d("2500")))
	apply(ApproveClaim(b, d("2500"), d("2400"), d("500"), false))
	want := MDFBalance{Allocated: NewNumeric(d("10000")), Available: NewNumeric(d("7600")), Reimbursable: NewNumeric(d("2400"))}
	if got := b.MDF("USD"); !got.Allocated.Equal(want.Allocated.Decimal) || !got.Available.Equal(want.Available.Decimal) || !got.Reimbursable.Equal(want.Reimbursable.Decimal) || !got.Approved.IsZero() || !got.Claimed.IsZero() || !got.Reserved.IsZero() {
		t.Fatalf("balances %+v", got)
	}
	x, ok := Expire(b)
	if !ok || !x.Balanced() {
		t.Fatal("expire")
	}
	b.Apply(x)
	if m := b.MDF("USD"); !m.Expired.Equal(d("7600")) || !m.Available.IsZero() || m.Expired.String() != "7600.00" {
		t.Fatalf("after expiry %+v", m)
	}
	if _, err := PreApprove(b, d("1"), d("1"), true); err == nil {
		t.Fatal("approved more than reserved")
	}
}

func TestQuarter(t *testing.T) {
	if q := Quarter(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)); q != "2026-Q4" {
		t.Fatal(q)
	}
	s, e, ok := QuarterBounds("2026-Q1")
	if !ok || s != time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) || e != time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) {
		t.Fatal(s, e, ok)
	}
	for _, bad := range []string{"2026-Q5", "2026Q1", "26-Q1", "2026-Q1x", ""} {
		if _, _, ok := QuarterBounds(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
