package domain

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var tokenKey = []byte("0123456789abcdef0123456789abcdef")

func TestClickTokenRoundTripAndTampering(t *testing.T) {
	tok := ClickToken{ClickID: uuid.New(), LinkID: uuid.New(), PartnerID: uuid.New(), ProgramID: uuid.New(), ClickedAt: time.Unix(1_790_000_000, 0).UTC()}
	s := tok.Sign(tokenKey)
	got, err := ParseClickToken(s, tokenKey)
	if err != nil || got != tok {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := ParseClickToken(s, []byte("another key")); err == nil {
		t.Fatal("accepted with another key")
	}
	for i := range s { // flipping any character breaks it
		b := []byte(s)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		if _, err := ParseClickToken(string(b), tokenKey); err == nil {
			t.Fatalf("tampered at %d accepted", i)
		}
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", len(s)), s + "A", s[:len(s)-1]} {
		if _, err := ParseClickToken(bad, tokenKey); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func FuzzParseClickToken(f *testing.F) {
	tok := ClickToken{ClickID: uuid.New(), LinkID: uuid.New(), PartnerID: uuid.New(), ProgramID: uuid.New(), ClickedAt: time.Now()}
	f.Add(tok.Sign(tokenKey))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseClickToken(s, tokenKey)
		if err == nil && got.Sign(tokenKey) != s {
			t.Fatalf("accepted %q, which is not what signing its content gives", s)
		}
	})
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	body := []byte(`{"external_id":"o-1"}`)
	old, cur := []byte("old-secret"), []byte("new-secret")
	good := SignPayload(cur, body, now)
	if err := VerifySignature(good, body, [][]byte{old, cur}, now, 5*time.Minute); err != nil {
		t.Fatalf("rotated secret: %v", err)
	}
	cases := map[string]string{
		"other body":  good,
		"too old":     SignPayload(cur, body, now.Add(-6*time.Minute)),
		"from future": SignPayload(cur, body, now.Add(6*time.Minute)),
		"no v1":       "t=1790000000",
		"garbage":     "hello",
		"unknown key": SignPayload([]byte("nope"), body, now),
		"bad hex":     "t=1790000000,v1=zz",
	}
	for name, h := range cases {
		b := body
		if name == "other body" {
			b = []byte(`{"external_id":"o-2"}`)
		}
		if err := VerifySignature(h, b, [][]byte{old, cur}, now, 5*time.Minute); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_790_000_000, 0)
	f.Add(SignPayload([]byte("s"), []byte("{}"), now), []byte("{}"))
	f.Add("t=,v1=", []byte(""))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := VerifySignature(header, body, [][]byte{[]byte("s")}, now, 5*time.Minute)
		if err == nil && header != SignPayload([]byte("s"), body, now) && !strings.Contains(header, ",") {
			t.Fatalf("accepted a header the secret did not make: %q", header)
		}
	})
}
