package domain

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestNormalizeCompanyName(t *testing.T) {
	same := [][]string{
		{"Acme, Inc.", "ACME Inc", "acme", "Acme Incorporated", "The Acme Company", "Acme L.L.C."},
		{"Müller GmbH", "Muller", "MÜLLER gmbh & Co. KG"},
		{"Procter & Gamble Co.", "Procter and Gamble", "PROCTER & GAMBLE"},
		{"Société Générale S.A.", "Societe Generale SA", "societe generale"},
		{"Tata Consultancy Services Ltd", "Tata Consultancy Services Limited", "TATA CONSULTANCY SERVICES"},
		{"Nokia Oyj", "Nokia"},
		{"BHP Group Ltd.", "BHP"},
	}
	for _, group := range same {
		want := NormalizeCompanyName(group[0])
		for _, v := range group[1:] {
			if got := NormalizeCompanyName(v); got != want {
				t.Errorf("%q → %q, but %q → %q", group[0], want, v, got)
			}
		}
	}
	// A legal suffix alone, or a name that is only a suffix word, stays.
	for in, want := range map[string]string{"Limited": "limited", "Group": "group", "Co": "co", "AB Volvo": "ab volvo"} {
		if got := NormalizeCompanyName(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestCustomerDomain(t *testing.T) {
	for in, want := range map[string]string{
		"acme.com": "acme.com", "https://www.Acme.com/contact": "acme.com", "emea.sales.acme.com": "acme.com",
		"shop.acme.co.uk": "acme.co.uk", "acme.co.uk": "acme.co.uk", "blog.example.com.au": "example.com.au",
	} {
		if got, ok := CustomerDomain(in); !ok || got != want {
			t.Errorf("CustomerDomain(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"co.uk", "com", "not a domain", ""} {
		if got, ok := CustomerDomain(bad); ok {
			t.Errorf("CustomerDomain(%q) = %q, accepted", bad, got)
		}
	}
}

func TestMatchAndJudgeConflicts(t *testing.T) {
	existing := []Registration{
		{Kind: "deal", ID: "d1", PartnerID: "p2", Status: DealApproved, Name: "acme", Domain: "acme.com", Country: "US"},
		{Kind: "deal", ID: "d2", PartnerID: "p3", Status: DealPendingApproval, Name: "globex", Domain: "globex.com", Country: "DE"},
		{Kind: "customer", ID: "c1", Name: "initech", Domain: "initech.io", Country: "US"},
		{Kind: "deal", ID: "d3", PartnerID: "p1", Status: DealApproved, Name: "umbrella", Domain: "umbrella.com", Country: "GB"},
	}
	tests := []struct {
		name, company, domain, country string
		reject                         bool
		flags                          []string // IDs flagged, in order
	}{
		{"same domain as a protected deal", "ACME Corporation", "acme.com", "US", true, []string{"d1"}},
		{"same name and country, other domain", "Acme", "acme-corp.net", "US", true, []string{"d1"}},
		{"same name, other country: near", "Acme", "acme.fr", "FR", false, []string{"d1"}},
		{"existing customer by domain", "Initech", "initech.io", "US", true, []string{"c1"}},
		{"open (not protected) registration: flagged", "Globex", "globex.com", "DE", false, []string{"d2"}},
		{"similar name: flagged", "Globexx", "globexx.com", "DE", false, []string{"d2"}},
		{"own protected deal: flagged, not rejected", "Umbrella", "umbrella.com", "GB", false, []string{"d3"}},
		{"unrelated", "Hooli", "hooli.xyz", "US", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := JudgeConflicts("p1", MatchRegistration(NormalizeCompanyName(tt.company), tt.domain, tt.country, existing))
			var ids []string
			for _, f := range v.Flags {
				ids = append(ids, f.ID)
			}
			if v.Reject != tt.reject || len(ids) != len(tt.flags) || (len(ids) > 0 && ids[0] != tt.flags[0]) {
				t.Fatalf("verdict %+v (flags %v), want reject=%v flags %v", v, ids, tt.reject, tt.flags)
			}
			if v.Reject && v.Reason == "" {
				t.Fatal("a rejection without a reason")
			}
		})
	}
}

func TestSimilarity(t *testing.T) {
	if s := Similarity("globex", "globex"); s != 1 {
		t.Fatalf("equal: %v", s)
	}
	if s := Similarity("globex", "globexx"); s < NearMatchThreshold {
		t.Fatalf("one letter more: %v", s)
	}
	if s := Similarity("acme", "hooli"); s > 0.2 {
		t.Fatalf("unrelated: %v", s)
	}
	if s := Similarity("acme systems", "acmesystems"); s != 1 {
		t.Fatalf("spacing: %v", s)
	}
}

func TestDealMarginAndRounding(t *testing.T) {
	d := decimal.RequireFromString
	neg := d("0.125")
	tests := []struct {
		name       string
		final      string
		negotiated *decimal.Decimal
		tier       string
		currency   string
		want       string
	}{
		{"tier default", "10000.00", nil, "0.20", "USD", "2000"},
		{"negotiated overrides tier", "10000.00", &neg, "0.20", "USD", "1250"},
		{"half-even down", "100.25", nil, "0.10", "EUR", "10.02"}, // 10.025 → 10.02
		{"half-even up", "100.35", nil, "0.10", "EUR", "10.04"},   // 10.035 → 10.04
		{"yen has no minor unit", "12345", nil, "0.15", "JPY", "1852"},
		{"dinar has three", "1000.001", nil, "0.1", "KWD", "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DealMargin(d(tt.final), tt.negotiated, d(tt.tier), tt.currency)
			if !got.Equal(d(tt.want)) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	if !ValidAmount(d("10.50"), "USD") || ValidAmount(d("10.505"), "USD") || ValidAmount(d("10.5"), "JPY") || ValidAmount(d("0"), "USD") {
		t.Fatal("ValidAmount")
	}
}

func TestNumericKeepsItsScale(t *testing.T) {
	for in, want := range map[string]string{"9360.00": `"9360.00"`, "0.1800": `"0.1800"`, "5": `"5"`, "-12.50": `"-12.50"`, "0": `"0.00"`} {
		got, _ := NewNumeric(decimal.RequireFromString(in)).MarshalJSON()
		if string(got) != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	null, _ := NullNumeric{}.MarshalJSON()
	some, _ := NewNullNumeric(ptrDec("1.10")).MarshalJSON()
	if string(null) != "null" || string(some) != `"1.10"` {
		t.Fatalf("null %s, some %s", null, some)
	}
}

func ptrDec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
