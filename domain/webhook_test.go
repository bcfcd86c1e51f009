package domain

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestWebhookURL(t *testing.T) {
	cases := []struct {
		url           string
		allowInsecure bool
		code          string // "" = accepted
	}{
		{"https://hooks.acme.example/partnerops", false, ""},
		{"https://203.0.113.7/hook", false, ""},
		{"http://hooks.acme.example/partnerops", false, "insecure"},
		{"http://127.0.0.1:9000/hook", true, ""}, // make run's demo mode
		{"https://127.0.0.1/hook", false, "private_address"},
		{"https://10.1.2.3/hook", false, "private_address"},
		{"https://169.254.169.254/latest/meta-data", false, "private_address"},
		{"https://[::1]/hook", false, "private_address"},
		{"https://[::ffff:10.0.0.1]/hook", false, "private_address"},
		{"https://100.64.1.1/hook", false, "private_address"},
		{"https://localhost/hook", false, "private_address"},
		{"https://metadata.google.internal/", false, "private_address"},
		{"https://intranet/hook", false, "private_address"},
		{"https://user:pw@hooks.acme.example/", false, "invalid"},
		{"ftp://hooks.acme.example/", false, "insecure"},
		{"/relative", false, "invalid"},
		{"https://hooks.acme.example/#frag", false, "invalid"},
	}
	for _, c := range cases {
		_, err := WebhookURL(c.url, c.allowInsecure)
		got := ""
		if e, ok := AsError(err); ok {
			got = e.Code
		} else if err != nil {
			got = err.Error()
		}
		if got != c.code {
			t.Errorf("WebhookURL(%q, %v) = %q, want %q", c.url, c.allowInsecure, got, c.code)
		}
	}
}

func TestPublicAddress(t *testing.T) {
	for s, want := range map[string]bool{"8.8.8.8": true, "203.0.113.7": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "100.64.0.1": false, "224.0.0.1": false, "::ffff:127.0.0.1": false} {
		if got := PublicAddress(netip.MustParseAddr(s)); got != want {
			t.Errorf("PublicAddress(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestSignWebhookVerifiesWithEitherSecret(t *testing.T) {
	body := []byte(`{"id":"e1","type":"deal.approved"}`)
	now := time.Unix(1_790_000_000, 0)
	header := SignWebhook([]string{"whsec_new", "whsec_old"}, body, now)
	if !strings.HasPrefix(header, "t=1790000000,v1=") || strings.Count(header, "v1=") != 2 {
		t.Fatalf("header %s", header)
	}
	for _, secret := range []string{"whsec_new", "whsec_old"} {
		if err := VerifySignature(header, body, [][]byte{[]byte(secret)}, now, 5*time.Minute); err != nil {
			t.Errorf("with %s: %v", secret, err)
		}
	}
	if err := VerifySignature(header, body, [][]byte{[]byte("whsec_other")}, now, 5*time.Minute); err == nil {
		t.Error("another secret verified")
	}
	if err := VerifySignature(header, append(body, ' '), [][]byte{[]byte("whsec_new")}, now, 5*time.Minute); err == nil {
		t.Error("a changed body verified")
	}
}
