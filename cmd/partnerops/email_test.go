//go:build e2e

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// What a process tells a partner reaches its inbox through a real SMTP server,
// in plain text and HTML, once per notification; a kind the partner muted does not.
func TestNotificationEmails(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	me := expect(t, do(t, call{method: "GET", path: "/v1/me/notification-preferences", key: partnerKey}), http.StatusOK)
	address := me.str("email")
	mailsTo := func() []caughtMail {
		var out []caughtMail
		for _, m := range sys.mail.Messages() {
			if len(m.To) == 1 && m.To[0] == address {
				out = append(out, m)
			}
		}
		return out
	}
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	reject := func() {
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won", key: partnerKey, body: map[string]any{"final_amount": "50000.00"}}), http.StatusOK)
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/won/reject", key: f.manager, body: map[string]any{"reason": "not in our books"}}), http.StatusOK)
	}
	reject()
	eventually(t, "the e-mail", func() bool { return len(mailsTo()) == 1 })
	m := mailsTo()[0]
	if m.Subject != "partnerops: Your won report was not confirmed: not in our books" || !strings.Contains(m.Text, "Your won report was not confirmed: not in our books") ||
		!strings.Contains(m.HTML, "<p style=") || !strings.Contains(m.HTML, "not in our books") || header(t, m.Raw, "X-Partnerops-Notification") != "deal-"+deal+"/deal_won_rejected_3" {
		t.Fatalf("e-mail: subject %q\ntext %q\nhtml %q\nraw %.1500s", m.Subject, m.Text, m.HTML, m.Raw)
	}
	// Its workflow says what it sent, to whom, in the Temporal UI.
	sum := sha256.Sum256([]byte("deal-" + deal + "/deal_won_rejected_3"))
	expectTexts(t, "e-mail", "email-"+hex.EncodeToString(sum[:12]), []string{"deal won rejected e-mail → " + address}, "done: sent")
	recordHistory(t, "email-"+hex.EncodeToString(sum[:12]), "email-sent")

	// The partner mutes won-report rejections: the next one is not mailed (but still listed).
	bad := do(t, call{method: "PUT", path: "/v1/me/notification-preferences", key: partnerKey, body: map[string]any{"email_muted": []string{"Deal Won"}}})
	if _, field := bad.errCode(); bad.status != http.StatusUnprocessableEntity || field != "email_muted" {
		t.Fatalf("a bad kind: %d %s", bad.status, bad.raw)
	}
	prefs := expect(t, do(t, call{method: "PUT", path: "/v1/me/notification-preferences", key: partnerKey,
		body: map[string]any{"email_muted": []string{"deal_won_rejected", "deal_won_rejected"}}}), http.StatusOK)
	if muted := prefs.body["email_muted"].([]any); len(muted) != 1 || muted[0] != "deal_won_rejected" {
		t.Fatalf("preferences: %s", prefs.raw)
	}
	reject()
	eventually(t, "the second notification listed", func() bool {
		n := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: partnerKey}), http.StatusOK).body["data"].([]any)
		return len(n) == 2
	})
	time.Sleep(500 * time.Millisecond) // an e-mail would have gone out by now
	if got := len(mailsTo()); got != 1 {
		t.Fatalf("%d e-mails after muting", got)
	}
	expect(t, do(t, call{method: "GET", path: "/v1/me/notification-preferences", key: f.manager}), http.StatusForbidden)
}

// header reads one header of a raw message (unfolded).
func header(t *testing.T, raw, name string) string {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m.Header.Get(name)
}
