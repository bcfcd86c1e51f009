package domain

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// The example: a 2.53 line (12.5 % of 20.24) refunded in two halves is
// taken back whole, and so is a 2.51 line; neither keeps nor loses a cent.
func TestClawbackDueHalves(t *testing.T) {
	for _, tt := range []struct{ line, sale, half, first, second string }{
		{"2.53", "20.24", "10.12", "1.26", "1.27"},
		{"2.51", "20.08", "10.04", "1.26", "1.25"},
	} {
		line, sale, half := decimal.RequireFromString(tt.line), decimal.RequireFromString(tt.sale), decimal.RequireFromString(tt.half)
		first := ClawbackDue(line, decimal.Zero, half, sale, "EUR")
		second := ClawbackDue(line, first, half.Add(half), sale, "EUR")
		if first.String() != tt.first || second.String() != tt.second || !first.Add(second).Equal(line) {
			t.Errorf("%s of %s in halves: %s + %s, want %s + %s", tt.line, tt.sale, first, second, tt.first, tt.second)
		}
	}
}

// Property: over random sequences of partial refunds of a sale, in currencies of
// 0, 2 and 3 decimals, each part takes back a non-negative amount, the parts so
// far always equal round(line × refunded ÷ sale), never exceed the line, and a
// whole refund nets the line to exactly zero.
func TestClawbackDueAddsUpOverRandomRefunds(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 25))
	for _, cur := range []string{"JPY", "EUR", "BHD"} {
		unit := decimal.New(1, -MinorUnits(cur))
		for i := 0; i < 3000; i++ {
			sale := unit.Mul(decimal.NewFromInt(1 + r.Int64N(2_000_000)))
			line := RoundMoney(sale.Mul(decimal.New(int64(1+r.IntN(400)), -3)), cur) // 0.1 % to 40 %
			refunded, clawed := decimal.Zero, decimal.Zero
			for parts := 0; refunded.LessThan(sale); parts++ {
				left := sale.Sub(refunded).Div(unit).IntPart()
				n := 1 + r.Int64N(left)
				if parts >= 6 || r.IntN(5) == 0 {
					n = left // the rest, at once
				}
				refunded = refunded.Add(unit.Mul(decimal.NewFromInt(n)))
				due := ClawbackDue(line, clawed, refunded, sale, cur)
				if due.IsNegative() || !due.Equal(due.Truncate(MinorUnits(cur))) {
					t.Fatalf("%s: line %s sale %s: part %s", cur, line, sale, due)
				}
				clawed = clawed.Add(due)
				if want := ProRate(line, refunded, sale, cur); !clawed.Equal(want) || clawed.GreaterThan(line) {
					t.Fatalf("%s: line %s sale %s refunded %s: clawed %s, want %s", cur, line, sale, refunded, clawed, want)
				}
			}
			if !clawed.Equal(line) {
				t.Fatalf("%s: line %s of sale %s fully refunded: clawed back %s", cur, line, sale, clawed)
			}
		}
	}
}
