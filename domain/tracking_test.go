package domain

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestClickIDRoundTrip(t *testing.T) {
	for range 100 {
		id := uuid.Must(uuid.NewV7())
		short := ShortClickID(id)
		if len(short) != 22 {
			t.Fatalf("short id %q is %d characters", short, len(short))
		}
		for _, s := range []string{short, id.String()} {
			got, err := ParseClickID(s)
			if err != nil || got != id {
				t.Fatalf("ParseClickID(%q) = %v, %v; want %v", s, got, err, id)
			}
		}
	}
}

func TestParseClickIDRefuses(t *testing.T) {
	for _, s := range []string{"", "abc", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA*", "AAAAAAAAAAAAAAAAAAAAAA=",
		"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "0190a8f0-1c2b-7a3d-8e4f-5a6b7c8d9e0f0"} {
		if _, err := ParseClickID(s); err == nil {
			t.Errorf("ParseClickID(%q) accepted", s)
		}
	}
}

func TestValidClickIDParam(t *testing.T) {
	for s, want := range map[string]bool{"po_click_id": true, "ref": true, "irclickid": true, "a": true,
		"": false, "1abc": false, "a-b": false, "a b": false, "a=b": false, "abcdefghijabcdefghijabcdefghijabc": false} {
		if got := ValidClickIDParam(s); got != want {
			t.Errorf("ValidClickIDParam(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestTrackingDomain(t *testing.T) {
	cases := []struct {
		in, host, cookie string
		ok               bool
	}{
		{"go.merchant.example", "go.merchant.example", "merchant.example", true},
		{"GO.Merchant.Example.", "go.merchant.example", "merchant.example", true},
		{"track.shop.co.uk", "track.shop.co.uk", "shop.co.uk", true},
		{"go.merchant.test", "go.merchant.test", "merchant.test", true},
		{"merchant.example", "merchant.example", "merchant.example", true},
		{"co.uk", "", "", false},     // a public suffix
		{"github.io", "", "", false}, // a public suffix with private registrations
		{"localhost", "", "", false}, // no dot
		{"127.0.0.1", "", "", false}, // an address
		{"go.merchant.example:8080", "", "", false},
		{"-go.merchant.example", "", "", false},
		{"https://go.merchant.example", "", "", false},
	}
	for _, c := range cases {
		host, cookie, ok := TrackingDomain(c.in)
		if ok != c.ok || host != c.host || cookie != c.cookie {
			t.Errorf("TrackingDomain(%q) = %q, %q, %v; want %q, %q, %v", c.in, host, cookie, ok, c.host, c.cookie, c.ok)
		}
	}
}

func TestDateJSON(t *testing.T) {
	d := NewDate(time.Date(2026, 11, 23, 22, 30, 0, 0, time.FixedZone("x", -3*3600)))
	js, _ := json.Marshal(d)
	if string(js) != `"2026-11-24"` {
		t.Fatalf("marshal: %s", js)
	}
	for _, in := range []string{`"2026-11-24"`, `"2026-11-24T00:00:00Z"`} {
		var back Date
		if err := json.Unmarshal([]byte(in), &back); err != nil || back.String() != "2026-11-24" {
			t.Fatalf("unmarshal %s: %v %v", in, back, err)
		}
	}
	var bad Date
	if err := json.Unmarshal([]byte(`"24/11/2026"`), &bad); err == nil {
		t.Fatal("accepted 24/11/2026")
	}
}
