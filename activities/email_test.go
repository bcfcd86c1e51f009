package activities

import (
	"strings"
	"testing"
)

func TestEmailRenderEscapesHTMLOnly(t *testing.T) {
	e := Email{To: "ana@northwind.example", Name: "Ana <Admin>", Program: "Channel & Co", Kind: "deal_won_rejected_3",
		Message: `Your won report was not confirmed: "<script>alert(1)</script>"`}
	subject, text, html, err := e.Render()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(subject, "partnerops: Your won report was not confirmed") {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(text, "Hello Ana <Admin>,") || !strings.Contains(text, `"<script>alert(1)</script>"`) || !strings.Contains(text, "for Channel & Co") {
		t.Errorf("text:\n%s", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "Ana &lt;Admin&gt;") || !strings.Contains(html, "Channel &amp; Co") {
		t.Errorf("html:\n%s", html)
	}
	long := Email{Message: strings.Repeat("é", 200)}
	if s, _, _, _ := long.Render(); len([]rune(s)) != len("partnerops: ")+90 {
		t.Errorf("a long subject is %d runes", len([]rune(s)))
	}
}

func TestMuteKey(t *testing.T) {
	for kind, want := range map[string]string{"deal_won_rejected_3": "deal_won_rejected", "tier_changed": "tier_changed",
		"certification_expiring": "certification_expiring", "tier_warning_12": "tier_warning", "review_reminder": "review_reminder"} {
		if got := MuteKey(kind); got != want {
			t.Errorf("MuteKey(%s) = %s, want %s", kind, got, want)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		url         string
		host        string
		port        int
		tls         bool
		user, pass  string
		wantRefused bool
	}{
		{"smtp://127.0.0.1:1025", "127.0.0.1", 1025, false, "", "", false},
		{"smtp://mail.example.com", "mail.example.com", 25, false, "", "", false},
		{"smtps://apikey:s3cr%40t@smtp.provider.example", "smtp.provider.example", 465, true, "apikey", "s3cr@t", false},
		{"smtps://smtp.provider.example:2465", "smtp.provider.example", 2465, true, "", "", false},
		{"http://mail.example.com", "", 0, false, "", "", true},
		{"smtp://", "", 0, false, "", "", true},
		{"smtp://mail.example.com:x", "", 0, false, "", "", true},
	}
	for _, c := range cases {
		m, err := ParseSMTPURL(c.url, "p <p@example.com>")
		if c.wantRefused {
			if err == nil {
				t.Errorf("%s accepted", c.url)
			}
			continue
		}
		if err != nil || m.Host != c.host || m.Port != c.port || m.ImplicitTLS != c.tls || m.Username != c.user || m.Password != c.pass {
			t.Errorf("%s: %+v %v", c.url, m, err)
		}
	}
}
