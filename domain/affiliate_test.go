package domain

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

func TestAttribute(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	touch := func(ago time.Duration) *Touch {
		return &Touch{PartnerID: uuid.New(), ClickID: uuid.NullUUID{UUID: uuid.New(), Valid: true}, At: now.Add(-ago)}
	}
	deal, token, click, coupon, binding := touch(0), touch(2*time.Hour), touch(3*time.Hour), touch(0), touch(0)
	old := touch(31 * 24 * time.Hour)
	tests := []struct {
		name   string
		in     AttributionInput
		method string
		want   *Touch
		reason string
	}{
		{"a protected deal wins over cookies", AttributionInput{Deal: deal, Token: token, Coupon: coupon}, ByDeal, deal, ""},
		{"token first", AttributionInput{Token: token, Click: click, Coupon: coupon, Binding: binding}, ByClickToken, token, ""},
		{"click ID without token", AttributionInput{Click: click, Coupon: coupon}, ByClickID, click, ""},
		{"expired token falls to the coupon", AttributionInput{Token: old, Coupon: coupon}, ByCoupon, coupon, ""},
		{"binding last", AttributionInput{Binding: binding}, ByCustomer, binding, ""},
		{"expired token alone", AttributionInput{Token: old}, "", nil, "the click is outside the cookie window"},
		{"tampered token alone", AttributionInput{TokenInvalid: true}, "", nil, "the click token was tampered with or is malformed"},
		{"tampered token, coupon", AttributionInput{TokenInvalid: true, Coupon: coupon}, ByCoupon, coupon, ""},
		{"nothing", AttributionInput{}, "", nil, "nothing to attribute: no click, coupon or known customer"},
		{"a click after the conversion does not count", AttributionInput{Token: touch(-time.Hour)}, "", nil, "the click is outside the cookie window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.At, tt.in.Window = now, 30*24*time.Hour
			got := Attribute(tt.in)
			if got.Method != tt.method || got.Reason != tt.reason || (tt.want != nil && got.PartnerID != tt.want.PartnerID) {
				t.Fatalf("got %+v, want %s %q", got, tt.method, tt.reason)
			}
		})
	}
	prog := uuid.New()
	first := &ClickToken{ProgramID: prog, ClickedAt: now.Add(-24 * time.Hour)}
	if !KeepFirstClick("first_click", first, prog, now, 30*24*time.Hour) || KeepFirstClick("last_click", first, prog, now, 30*24*time.Hour) ||
		KeepFirstClick("first_click", first, uuid.New(), now, 30*24*time.Hour) || KeepFirstClick("first_click", first, prog, now, time.Hour) {
		t.Fatal("KeepFirstClick")
	}
}

func TestSelectRule(t *testing.T) {
	partner, tier, other := uuid.New(), uuid.New(), uuid.New()
	jan, mar := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	pid := func(u uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: u, Valid: true} }
	rules := []CommissionRule{
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"), Event: KindSale, Kind: "percent", EffectiveFrom: jan},
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000002"), Event: KindSale, Kind: "percent", EffectiveFrom: mar}, // program rule from March
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000003"), Event: KindSale, Kind: "percent", TierID: pid(tier), EffectiveFrom: jan},
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000004"), Event: KindSale, Kind: "percent", PartnerID: pid(partner), EffectiveFrom: jan, EffectiveTo: &mar},
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000005"), Event: KindSale, Kind: "percent", PartnerID: pid(other), EffectiveFrom: jan},
		{ID: uuid.MustParse("00000000-0000-0000-0000-000000000006"), Event: KindLead, Kind: "flat", EffectiveFrom: jan},
	}
	tests := []struct {
		name          string
		partner, tier uuid.UUID
		event         string
		at            time.Time
		want          int
	}{
		{"partner rule in force", partner, tier, KindSale, jan.AddDate(0, 1, 0), 4},
		{"partner rule ended: tier", partner, tier, KindSale, mar, 3},
		{"no tier rule: program's latest", uuid.New(), uuid.New(), KindSale, mar.AddDate(0, 0, 1), 2},
		{"the rule in force when it happened", uuid.New(), uuid.New(), KindSale, jan.AddDate(0, 0, 5), 1},
		{"leads have their own", partner, tier, KindLead, mar, 6},
		{"before any rule", partner, tier, KindSale, jan.Add(-time.Second), 0},
	}
	for _, tt := range tests {
		r, ok := SelectRule(rules, tt.partner, tt.tier, tt.event, tt.at)
		got := 0
		if ok {
			got = int(r.ID[15])
		}
		if got != tt.want {
			t.Errorf("%s: rule %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestCommission(t *testing.T) {
	d := decimal.RequireFromString
	pct := CommissionRule{Kind: "percent", Rate: d("0.20"), VolumeTiers: []VolumeTier{{FromCount: 11, Rate: d("0.25")}}}
	flat := CommissionRule{Kind: "flat", Amount: d("5.00")}
	months := CommissionRule{Kind: "percent", Rate: d("0.30"), Recurring: "months", RecurringMonths: 12}
	lifetime := CommissionRule{Kind: "percent", Rate: d("0.10"), Recurring: "lifetime"}
	month := 30 * 24 * time.Hour
	tests := []struct {
		name string
		rule CommissionRule
		in   CommissionInput
		want string // "" for no commission
	}{
		{"percent of sale", pct, CommissionInput{Kind: KindSale, Amount: d("99.99"), Currency: "USD", MonthSales: 1}, "20.00"}, // 19.998
		{"10th sale still 20%", pct, CommissionInput{Kind: KindSale, Amount: d("100"), Currency: "USD", MonthSales: 10}, "20.00"},
		{"11th sale crosses to 25%", pct, CommissionInput{Kind: KindSale, Amount: d("100"), Currency: "USD", MonthSales: 11}, "25.00"},
		{"half-even: 0.125 → 0.12", CommissionRule{Kind: "percent", Rate: d("0.05")}, CommissionInput{Kind: KindSale, Amount: d("2.50"), Currency: "USD"}, "0.12"},
		{"half-even: 0.135 → 0.14", CommissionRule{Kind: "percent", Rate: d("0.05")}, CommissionInput{Kind: KindSale, Amount: d("2.70"), Currency: "USD"}, "0.14"},
		{"yen rounds to whole", CommissionRule{Kind: "percent", Rate: d("0.15")}, CommissionInput{Kind: KindSale, Amount: d("999"), Currency: "JPY"}, "150"},
		{"flat per lead", flat, CommissionInput{Kind: KindLead, Currency: "USD"}, "5.00"},
		{"percent rule pays nothing on a lead", pct, CommissionInput{Kind: KindLead, Currency: "USD"}, ""},
		{"first subscription payment", months, CommissionInput{Kind: KindSubscription, Amount: d("50"), Currency: "EUR", FirstPayment: true}, "15.00"},
		{"recurring in month 11", months, CommissionInput{Kind: KindSubscription, Amount: d("50"), Currency: "EUR", SinceFirst: 11 * month}, "15.00"},
		{"recurring ends after 12 months", months, CommissionInput{Kind: KindSubscription, Amount: d("50"), Currency: "EUR", SinceFirst: 12 * month}, ""},
		{"lifetime recurring", lifetime, CommissionInput{Kind: KindSubscription, Amount: d("50"), Currency: "EUR", SinceFirst: 60 * month}, "5.00"},
		{"no recurring rule", pct, CommissionInput{Kind: KindSubscription, Amount: d("50"), Currency: "EUR", SinceFirst: month}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, reason := Commission(tt.rule, tt.in)
			if tt.want == "" {
				if ok || reason == "" {
					t.Fatalf("paid %s (%v)", got, ok)
				}
				return
			}
			if !ok || !got.Equal(d(tt.want)) || got.StringFixed(MinorUnits(tt.in.Currency)) != tt.want {
				t.Fatalf("got %s %v %q, want %s", got, ok, reason, tt.want)
			}
		})
	}
	for _, tt := range []struct{ commission, refunded, sale, want string }{
		{"20.00", "100.00", "100.00", "20.00"}, // full
		{"20.00", "25.00", "100.00", "5.00"},   // a quarter
		{"20.00", "33.33", "100.00", "6.67"},   // 6.666 → 6.67
		{"20.00", "150.00", "100.00", "20.00"}, // more than the sale: all of it
	} {
		if got := ProRate(d(tt.commission), d(tt.refunded), d(tt.sale), "USD"); !got.Equal(d(tt.want)) {
			t.Errorf("ProRate(%s, %s, %s) = %s, want %s", tt.commission, tt.refunded, tt.sale, got, tt.want)
		}
	}
}

func TestFraudFlags(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *time.Time { t := now.Add(-ago); return &t }
	tests := []struct {
		name string
		in   FraudInput
		want []string
	}{
		{"clean", FraudInput{PartnerEmail: "p@x.com", CustomerEmail: "c@y.com", ClickedAt: at(time.Hour), Sales90d: 10, Refunds90d: 2}, []string{}},
		{"own e-mail", FraudInput{PartnerEmail: "p@x.com", CustomerEmail: "P@X.com"}, []string{FlagSelfReferral}},
		{"own address", FraudInput{PartnerIPHash: []byte{1, 2}, CustomerIPHash: []byte{1, 2}}, []string{FlagSelfReferral}},
		{"14 seconds after the click", FraudInput{ClickedAt: at(14 * time.Second)}, []string{FlagFastConversion}},
		{"15 seconds is fine", FraudInput{ClickedAt: at(15 * time.Second)}, []string{}},
		{"duplicate order", FraudInput{DuplicateOrder: true}, []string{FlagDuplicateOrder}},
		{"25% refunds is fine", FraudInput{Sales90d: 8, Refunds90d: 2}, []string{}},
		{"above 25% refunds", FraudInput{Sales90d: 7, Refunds90d: 2}, []string{FlagHighRefundRate}},
	}
	for _, tt := range tests {
		tt.in.ConvertedAt = now
		if got := FraudFlags(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	for ua, bot := range map[string]bool{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36": false,
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)":                                    true,
		"facebookexternalhit/1.1": true, "curl/8.5.0": true, "Mozilla/5.0 HeadlessChrome/120.0": true, "python-requests/2.31": true,
	} {
		if IsBot(ua) != bot {
			t.Errorf("IsBot(%q) = %v", ua, !bot)
		}
	}
	if !MalformedClick("", 0) || !MalformedClick("x", 5000) || MalformedClick("Mozilla/5.0", 10) {
		t.Fatal("MalformedClick")
	}
}
