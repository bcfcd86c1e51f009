package domain

import (
	"slices"
	"testing"
	"time"
)

func TestRequiredCertifications(t *testing.T) {
	program := map[string][]string{"msp": {"managed-services", "security-basics"}}
	tests := []struct {
		name        string
		partnerType string
		tier        []string
		want        []string
	}{
		{"affiliate needs none", "affiliate", nil, []string{}},
		{"creator needs none even in a demanding tier", "creator", []string{"gold-tech"}, []string{}},
		{"reseller gets the default when the program names none", "reseller", nil, []string{DefaultCertification}},
		{"msp gets the program's list", "msp", nil, []string{"managed-services", "security-basics"}},
		{"tier adds its own, sorted, without duplicates", "msp", []string{"gold-tech", "security-basics"}, []string{"gold-tech", "managed-services", "security-basics"}},
		{"referral needs none by default", "referral", nil, []string{}},
		{"isv takes the tier's", "isv", []string{"integration-review"}, []string{"integration-review"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RequiredCertifications(tt.partnerType, program, tt.tier)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStanding(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	now := day(100)
	tests := []struct {
		name        string
		required    []string
		held        []Certification
		wantMissing []string
		wantNext    time.Time
	}{
		{"nothing required is complete", nil, nil, []string{}, time.Time{}},
		{"missing one", []string{"a", "b"}, []Certification{{"a", day(0), day(400)}}, []string{"b"}, day(400)},
		{"expired counts as missing", []string{"a"}, []Certification{{"a", day(0), day(100)}}, []string{"a"}, time.Time{}},
		{"renewal wins over the expired one", []string{"a"}, []Certification{{"a", day(0), day(50)}, {"a", day(60), day(500)}}, []string{}, day(500)},
		{"next expiry is the earliest required", []string{"a", "b"}, []Certification{{"a", day(0), day(300)}, {"b", day(0), day(200)}, {"c", day(0), day(101)}}, []string{}, day(200)},
		{"passed in the future does not count yet", []string{"a"}, []Certification{{"a", day(101), day(500)}}, []string{"a"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Standing(tt.required, tt.held, now)
			if !slices.Equal(got.Missing, tt.wantMissing) || !got.NextExpiry.Equal(tt.wantNext) {
				t.Fatalf("got missing %v next %v, want %v %v", got.Missing, got.NextExpiry, tt.wantMissing, tt.wantNext)
			}
			if got.Complete() != (len(tt.wantMissing) == 0) {
				t.Fatalf("Complete() = %v", got.Complete())
			}
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"acme.com", "acme.com", true},
		{"https://www.Acme.COM/about?x=1", "acme.com", true},
		{"http://shop.acme.co.uk:8080", "shop.acme.co.uk", true},
		{"acme.com.", "acme.com", true},
		{"localhost", "", false},
		{"acme", "", false},
		{"ac me.com", "", false},
		{"", "", false},
		{"-acme.com", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeDomain(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for in, want := range map[string]bool{
		"ana@example.com": true, "Ana <ana@example.com>": false, "ana@": false, "": false, "ana example.com": false,
	} {
		if got := ValidEmail(in); got != want {
			t.Errorf("ValidEmail(%q) = %v", in, got)
		}
	}
}

func TestAPIKeyRoundTrip(t *testing.T) {
	key, prefix, hash := NewAPIKey(RoleManager)
	p, h, ok := ParseAPIKey(key)
	if !ok || p != prefix || !HashesEqual(h, hash) {
		t.Fatalf("ParseAPIKey(%q) = %q, %x, %v; want %q, %x", key, p, h, ok, prefix, hash)
	}
	other, _, _ := NewAPIKey(RoleManager)
	if other == key {
		t.Fatal("two keys are equal")
	}
	for _, bad := range []string{"", "po_manager", "po_root_abcdefgh_" + key[len(prefix)+1:], "xx_manager_abcdefgh_aaaaaaaaaaaaaaaaaaaaaaaa", key + "_x"} {
		if _, _, ok := ParseAPIKey(bad); ok {
			t.Errorf("ParseAPIKey(%q) accepted", bad)
		}
	}
	_, h2, _ := ParseAPIKey(prefix + "_" + "aaaaaaaaaaaaaaaaaaaaaaaaaa")
	if HashesEqual(h2, hash) {
		t.Fatal("a guessed secret matched")
	}
}

func TestCertificationWarnings(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	held := []Certification{{Name: "sales", PassedAt: day(-300), ExpiresAt: day(100)}, {Name: "tech", PassedAt: day(-10), ExpiresAt: day(20)},
		{Name: "sales", PassedAt: day(-700), ExpiresAt: day(-300)}}
	due, next := CertificationWarnings([]string{"sales", "tech"}, held, day(14))
	if len(due) != 1 || due[0].Key() != "certification_expiring/tech/2026-01-21/7d" || !next.Equal(day(70)) {
		t.Fatalf("day 14: %v next %v", due, next)
	}
	due, next = CertificationWarnings([]string{"sales", "tech"}, held, day(0))
	if len(due) != 1 || due[0].Key() != "certification_expiring/tech/2026-01-21/30d" || !next.Equal(day(13)) {
		t.Fatalf("day 0: %v next %v", due, next)
	}
	due, next = CertificationWarnings([]string{"sales", "tech"}, held, day(71))
	if len(due) != 1 || due[0].Key() != "certification_expiring/sales/2026-04-11/30d" || !next.Equal(day(93)) {
		t.Fatalf("day 71: %v next %v", due, next)
	}
	due, next = CertificationWarnings([]string{"sales", "tech"}, held, day(101))
	if len(due) != 0 || !next.IsZero() {
		t.Fatalf("after both expired: %v next %v", due, next)
	}
}
