package domain

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestQualifyingTier(t *testing.T) {
	d := func(s string) *decimal.Decimal { v := decimal.RequireFromString(s); return &v }
	tiers := []TierCriteria{
		{Name: "Gold", Rank: 2, MinWonRevenue: d("250000"), RequiredCertifications: []string{"gold-technical"}},
		{Name: "Registered", Rank: 0},
		{Name: "Silver", Rank: 1, MinWonRevenue: d("50000"), MinAffiliateRevenue: d("1000")},
	}
	cases := []struct {
		name           string
		won, affiliate string
		certs          []string
		want           string
	}{
		{"nothing", "0", "0", nil, "Registered"},
		{"silver on both", "50000", "1000", nil, "Silver"},
		{"silver short on affiliate revenue", "90000", "999.99", nil, "Registered"},
		{"gold revenue without the certification", "300000", "5000", nil, "Silver"},
		{"gold", "250000", "5000", []string{"gold-technical", "sales-fundamentals"}, "Gold"},
		{"gold's certification alone", "0", "0", []string{"gold-technical"}, "Registered"},
		{"refunds can net negative", "0", "-20", nil, "Registered"},
	}
	for _, c := range cases {
		got := QualifyingTier(tiers, TierStanding{WonRevenue: decimal.RequireFromString(c.won), AffiliateRevenue: decimal.RequireFromString(c.affiliate), Certifications: c.certs})
		if got.Name != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Name, c.want)
		}
	}
	// A tier that asks nothing is a manager's to give: the review never promotes into it.
	manual := append(tiers, TierCriteria{Name: "Partner of the year", Rank: 9})
	if got := QualifyingTier(manual, TierStanding{WonRevenue: decimal.RequireFromString("1")}); got.Name != "Registered" {
		t.Errorf("promoted into a manual tier: %s", got.Name)
	}
	if got := QualifyingTier([]TierCriteria{{Name: "Only", MinWonRevenue: d("1")}}, TierStanding{}); got.Name != "Only" {
		t.Errorf("a single tier always qualifies: %s", got.Name)
	}
}
