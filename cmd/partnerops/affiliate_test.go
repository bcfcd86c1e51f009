//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/domain"
)

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type affiliateFixture struct {
	fixture
	partnerID, partnerKey, integration string
}

// affiliateProgram sets up tracking on shop.example with 20% of sales (25% from
// the 11th sale of a month) and 5.00 per lead, and an active affiliate.
func affiliateProgram(t *testing.T) affiliateFixture {
	t.Helper()
	return affiliateProgramTiered(t, []map[string]any{{"from_count": 11, "rate": "0.25"}})
}

// affiliateProgramTiered is affiliateProgram with the sale rule's volume tiers
// given (none: 20% of every sale).
func affiliateProgramTiered(t *testing.T, volumeTiers []map[string]any) affiliateFixture {
	t.Helper()
	f := affiliateFixture{fixture: newProgram(t)}
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "holding_days": 30}}), http.StatusOK)
	from := time.Now().AddDate(0, -2, 0).UTC().Format(time.RFC3339)
	sale := map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.20", "effective_from": from}
	if len(volumeTiers) > 0 {
		sale["volume_tiers"] = volumeTiers
	}
	expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: sale}), http.StatusCreated)
	expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: map[string]any{"program_id": f.programID, "event": "lead",
		"kind": "flat", "amount": "5.00", "effective_from": from}}), http.StatusCreated)
	f.partnerID, f.partnerKey = activePartner(t, f.fixture, "affiliate")
	f.integration = newKey(t, domain.RoleIntegration, uuid.Nil)
	return f
}

func (f affiliateFixture) link(t *testing.T, dest, subID string) (code string) {
	t.Helper()
	r := expect(t, do(t, call{method: "POST", path: "/v1/links", key: f.partnerKey, body: map[string]any{"destination": dest, "sub_id": subID}}), http.StatusCreated)
	if !strings.HasSuffix(r.str("url"), "/c/"+r.str("code")) {
		t.Fatalf("link: %s", r.raw)
	}
	code = r.str("code")
	waitForLink(t, code)
	return code
}

// waitForLink waits for the click cache to pick the link up (it refreshes every 100 ms here).
func waitForLink(t *testing.T, code string) {
	eventually(t, "the link in the click cache", func() bool {
		resp, err := noFollow.Get(sys.api.URL + "/c/" + code + "?probe=1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusFound
	})
}

func click(t *testing.T, code, query, ua string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", sys.api.URL+"/c/"+code+query, nil)
	req.Header.Set("User-Agent", ua)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	token := ""
	for _, c := range resp.Cookies() {
		if c.Name == "po_click" {
			token = c.Value
		}
	}
	return resp, token
}

const browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"

func (f affiliateFixture) convert(t *testing.T, body map[string]any) response {
	t.Helper()
	body["program_id"] = f.programID
	if body["currency"] == nil {
		body["currency"] = "EUR"
	}
	return do(t, call{method: "POST", path: "/v1/conversions", key: f.integration, body: body})
}

// Click → cookie → conversion → commission line, against the real server.
func TestClickToCommission(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/spring?lang=en", "newsletter-11")

	resp, token := click(t, code, "?utm_source=blog&lang=de", browser)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusFound || loc.Host != "shop.example" || q.Get("utm_source") != "blog" || q.Get("lang") != "en" || q.Get("sub_id") != "newsletter-11" {
		t.Fatalf("redirect %d to %s", resp.StatusCode, loc)
	}
	tok, err := domain.ParseClickToken(token, testTokenKey)
	if err != nil || tok.PartnerID.String() != f.partnerID || tok.ProgramID.String() != f.programID {
		t.Fatalf("cookie token %+v %v", tok, err)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if !cookie.HttpOnly || cookie.MaxAge != 30*24*3600 || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", cookie)
	}

	// The merchant reports the sale 20 seconds later (not a script: more than 15 s).
	sale := map[string]any{"external_id": "order-" + uuid.NewString(), "kind": "sale", "amount": "99.99", "click_token": token,
		"order_id": uuid.NewString(), "customer_ref": "cust-" + uuid.NewString(), "occurred_at": time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)}
	time.Sleep(10 * time.Millisecond)
	sale["occurred_at"] = tok.ClickedAt.Add(20 * time.Second).Format(time.RFC3339)
	r := expect(t, f.convert(t, sale), http.StatusCreated)
	lines := r.body["commission_lines"].([]any)
	line := lines[0].(map[string]any)
	if r.str("attribution_method") != "click_token" || r.str("partner_id") != f.partnerID || r.str("click_id") != tok.ClickID.String() ||
		len(lines) != 1 || line["amount"] != "20.00" || line["status"] != "pending" {
		t.Fatalf("conversion: %s", r.raw)
	}
	hold, _ := time.Parse(time.RFC3339, line["hold_until"].(string))
	if got := hold.Sub(tok.ClickedAt.Add(20 * time.Second)); got < 30*24*time.Hour-time.Second || got > 30*24*time.Hour+time.Second {
		t.Fatalf("hold %v", got)
	}
	// A retried postback returns the first result; another body with the same external_id is refused.
	again := expect(t, f.convert(t, sale), http.StatusOK)
	if again.str("id") != r.str("id") {
		t.Fatalf("retry created another conversion: %s", again.raw)
	}
	changed := map[string]any{}
	for k, v := range sale {
		changed[k] = v
	}
	changed["amount"] = "199.99"
	if r := f.convert(t, changed); r.status != http.StatusConflict {
		t.Fatalf("changed body: %d %s", r.status, r.raw)
	}

	// The click itself is stored (asynchronously).
	eventually(t, "the click row", func() bool {
		var n int
		_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM clicks WHERE id = $1 AND NOT bot AND NOT duplicate", tok.ClickID).Scan(&n)
		return n == 1
	})

	// Partial refund before payout: a pro-rated negative line; then the rest voids everything.
	refund := expect(t, f.convert(t, map[string]any{"external_id": "refund-" + uuid.NewString(), "kind": "refund", "amount": "25.00", "refund_of": sale["external_id"]}), http.StatusCreated)
	rl := refund.body["commission_lines"].([]any)
	if len(rl) != 2 || rl[1].(map[string]any)["amount"] != "-5.00" || rl[1].(map[string]any)["status"] != "pending" {
		t.Fatalf("partial refund: %s", refund.raw)
	}
	if r := f.convert(t, map[string]any{"external_id": "refund-" + uuid.NewString(), "kind": "refund", "amount": "75.00", "refund_of": sale["external_id"]}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("refunding more than is left: %d %s", r.status, r.raw)
	}
	full := expect(t, f.convert(t, map[string]any{"external_id": "refund-" + uuid.NewString(), "kind": "refund", "amount": "74.99", "refund_of": sale["external_id"]}), http.StatusCreated)
	for _, l := range full.body["commission_lines"].([]any) {
		if l.(map[string]any)["status"] != "void" {
			t.Fatalf("after the full refund: %s", full.raw)
		}
	}

	// Recurring: the bound customer's next subscription payment needs a recurring rule; a lead pays the flat 5.00.
	lead := expect(t, f.convert(t, map[string]any{"external_id": "lead-" + uuid.NewString(), "kind": "lead", "coupon_code": "", "click_token": token,
		"occurred_at": tok.ClickedAt.Add(time.Minute).Format(time.RFC3339)}), http.StatusCreated)
	if l := lead.body["commission_lines"].([]any); len(l) != 1 || l[0].(map[string]any)["amount"] != "5.00" {
		t.Fatalf("lead: %s", lead.raw)
	}
}

func TestRefundAfterPayoutIsAClawback(t *testing.T) {
	f := affiliateProgram(t)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	ext := "order-" + uuid.NewString()
	r := expect(t, f.convert(t, map[string]any{"external_id": ext, "kind": "sale", "amount": "200.00", "coupon_code": strings.ToLower(coupon)}), http.StatusCreated)
	if r.str("attribution_method") != "coupon" {
		t.Fatalf("coupon attribution: %s", r.raw)
	}
	// The payout issue marks lines paid; here, by hand.
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE commission_lines SET status = 'paid' WHERE source_id = $1", r.str("id")); err != nil {
		t.Fatal(err)
	}
	refund := expect(t, f.convert(t, map[string]any{"external_id": "r-" + uuid.NewString(), "kind": "refund", "amount": "50.00", "refund_of": ext}), http.StatusCreated)
	lines := refund.body["commission_lines"].([]any)
	claw := lines[1].(map[string]any)
	if len(lines) != 2 || lines[0].(map[string]any)["status"] != "paid" || claw["kind"] != "clawback" || claw["amount"] != "-10.00" || claw["status"] != "payable" {
		t.Fatalf("clawback: %s", refund.raw)
	}
	// Coupon codes are unique and never reused.
	if r := do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID, "code": coupon}}); r.status != http.StatusConflict {
		t.Fatalf("reused coupon: %d", r.status)
	}
}

func TestSignedConversions(t *testing.T) {
	f := affiliateProgram(t)
	secret := expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/signing-secrets", key: f.admin}), http.StatusCreated).str("secret")
	body, _ := json.Marshal(map[string]any{"program_id": f.programID, "external_id": "lead-" + uuid.NewString(), "kind": "lead", "currency": "EUR"})
	send := func(sig string) int {
		req, _ := http.NewRequest("POST", sys.api.URL+"/v1/conversions", bytes.NewReader(body))
		req.Header.Set(api.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(domain.SignPayload([]byte("wrong"), body, time.Now())); s != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", s)
	}
	if s := send(domain.SignPayload([]byte(secret), body, time.Now().Add(-6*time.Minute))); s != http.StatusUnauthorized {
		t.Fatalf("stale signature: %d", s)
	}
	if s := send(""); s != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", s)
	}
	if s := send(domain.SignPayload([]byte(secret), body, time.Now())); s != http.StatusCreated {
		t.Fatalf("signed: %d", s)
	}
	// Rotation: the previous secret stays valid after a new one is made.
	expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/signing-secrets", key: f.admin}), http.StatusCreated)
	if s := send(domain.SignPayload([]byte(secret), body, time.Now())); s != http.StatusOK {
		t.Fatalf("previous secret after rotation: %d", s)
	}
	// A partner key is no integration key.
	if r := do(t, call{method: "POST", path: "/v1/conversions", key: f.partnerKey, body: map[string]any{}}); r.status != http.StatusForbidden {
		t.Fatalf("partner reporting conversions: %d", r.status)
	}
}

func TestClickHandlerEdges(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://www.shop.example/p", "")
	if resp, _ := click(t, "nope-"+code, "", browser); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown code: %d", resp.StatusCode)
	}
	// Bots and repeats are recorded but flagged.
	_, botToken := click(t, code, "", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	_, first := click(t, code, "", browser)
	_, second := click(t, code, "", browser)
	flags := func(tok string) string {
		tk, _ := domain.ParseClickToken(tok, testTokenKey)
		var bot, dup bool
		eventually(t, "the click row", func() bool {
			return sys.store.Pool.QueryRow(context.Background(), "SELECT bot, duplicate FROM clicks WHERE id = $1", tk.ClickID).Scan(&bot, &dup) == nil
		})
		return fmt.Sprintf("bot=%v dup=%v", bot, dup)
	}
	// The cache probe used Go's client, a different user agent: the browser's first click is new.
	if a, b, c := flags(botToken), flags(first), flags(second); a != "bot=true dup=false" || b != "bot=false dup=false" || c != "bot=false dup=true" {
		t.Fatalf("flags: bot %s / first %s / second %s", a, b, c)
	}
	// Destinations off the program's domains are refused: no open redirects.
	for _, dest := range []string{"https://evil.example/", "https://shop.example.evil.com/", "javascript:alert(1)", "//evil.example", "https://user@evil.example"} {
		if r := do(t, call{method: "POST", path: "/v1/links", key: f.partnerKey, body: map[string]any{"destination": dest}}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("destination %s: %d", dest, r.status)
		}
	}
	// A disabled link stops within seconds; with a fallback URL it goes there.
	var id string
	for _, l := range expect(t, do(t, call{method: "GET", path: "/v1/links", key: f.partnerKey}), http.StatusOK).body["data"].([]any) {
		if l.(map[string]any)["code"] == code {
			id = l.(map[string]any)["id"].(string)
		}
	}
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "fallback_url": "https://shop.example/"}}), http.StatusOK)
	expect(t, do(t, call{method: "DELETE", path: "/v1/links/" + id, key: f.partnerKey}), http.StatusNoContent)
	eventually(t, "the disabled link to go to the fallback", func() bool {
		resp, _ := click(t, code, "", browser)
		return resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == "https://shop.example/"
	})
}

// A deal registered and protected for the customer wins over the cookie.
func TestProtectedDealWinsOverCookies(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "")
	_, token := click(t, code, "", browser)
	_, resellerKey := activePartner(t, f.fixture, "reseller")
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: resellerKey, body: dealBody(company, dom)}), http.StatusCreated)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal.str("id") + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	tok, _ := domain.ParseClickToken(token, testTokenKey)
	r := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "1000.00", "click_token": token,
		"customer_domain": "https://www." + dom, "occurred_at": tok.ClickedAt.Add(time.Minute).Format(time.RFC3339)}), http.StatusCreated)
	if r.str("attribution_method") != "deal" || r.str("partner_id") != deal.str("partner_id") {
		t.Fatalf("attribution: %s", r.raw)
	}
}

// A customer at the address the partner works from is a self-referral however
// the merchant spells the address (the click path hashes Go's canonical form).
func TestSelfReferralByAddressAnySpelling(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "") // the partner, from 127.0.0.1
	for _, tc := range []struct {
		ip      string
		flagged bool
	}{{"127.0.0.1", true}, {"::ffff:127.0.0.1", true}, {"::FFFF:7f00:1", true}, {"127.0.0.2", false}, {"::1", false}} {
		_, token := click(t, code, "", browser)
		r := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "50.00", "click_token": token,
			"customer_ip": tc.ip}), http.StatusCreated)
		flags := r.body["fraud_flags"].([]any)
		if flagged := slices.Contains(flags, any("self_referral")); flagged != tc.flagged {
			t.Errorf("customer_ip %q: flags %v, want self_referral %v", tc.ip, flags, tc.flagged)
		}
	}
}

// A conversion flagged as self-referral holds its commission until a manager decides.
func TestFlaggedConversionIsReviewed(t *testing.T) {
	f := affiliateProgram(t)
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: f.partnerKey}), http.StatusOK)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	r := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "50.00", "coupon_code": coupon,
		"customer_email": me.str("email")}), http.StatusCreated)
	if flags := r.body["fraud_flags"].([]any); len(flags) != 1 || flags[0] != "self_referral" || r.str("review_status") != "pending" ||
		r.body["commission_lines"].([]any)[0].(map[string]any)["status"] != "held" {
		t.Fatalf("flagged: %s", r.raw)
	}
	id := r.str("id")
	queue := expect(t, do(t, call{method: "GET", path: "/v1/conversions?review=pending&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	if len(queue.body["data"].([]any)) != 1 {
		t.Fatalf("review queue: %s", queue.raw)
	}
	if r := do(t, call{method: "POST", path: "/v1/conversions/" + id + "/reject", key: f.manager, body: map[string]any{}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("reject without reason: %d", r.status)
	}
	if r := do(t, call{method: "POST", path: "/v1/conversions/" + id + "/approve", key: f.partnerKey, body: map[string]any{}}); r.status != http.StatusForbidden {
		t.Fatalf("partner approving: %d", r.status)
	}
	ok := expect(t, do(t, call{method: "POST", path: "/v1/conversions/" + id + "/approve", key: f.manager, body: map[string]any{"reason": "her own test order, allowed"}}), http.StatusOK)
	if ok.str("review_status") != "approved" || ok.body["commission_lines"].([]any)[0].(map[string]any)["status"] != "pending" {
		t.Fatalf("approved: %s", ok.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/conversions/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "x"}}), http.StatusConflict)

	// The holding period is set-based: one sweep makes every line past its hold payable.
	acts := &activities.Activities{Store: sys.store}
	if _, err := acts.MakeCommissionsPayable(context.Background(), time.Now().AddDate(0, 0, 31)); err != nil {
		t.Fatal(err)
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/conversions/" + id, key: f.partnerKey}), http.StatusOK); r.body["commission_lines"].([]any)[0].(map[string]any)["status"] != "payable" {
		t.Fatalf("after the holding period: %s", r.raw)
	}
	// ...and the Schedule that runs the sweep exists.
	if _, err := sys.temporal.ScheduleClient().GetHandle(context.Background(), "commission-payable-sweep").Describe(context.Background()); err != nil {
		t.Fatalf("schedule: %v", err)
	}
}

func TestBadConversionsWriteNothing(t *testing.T) {
	f := affiliateProgram(t)
	base := func(k string, v any) map[string]any {
		m := map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "10.00"}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no external id", base("external_id", nil), "external_id"},
		{"bad kind", base("kind", "purchase"), "kind"},
		{"sale without amount", base("amount", nil), "amount"},
		{"negative amount", base("amount", "-10.00"), "amount"},
		{"sub-cent", base("amount", "10.001"), "amount"},
		{"future", base("occurred_at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), "occurred_at"},
		{"refund without original", base("kind", "refund"), "refund_of"},
		{"refund of unknown", map[string]any{"external_id": "r", "kind": "refund", "amount": "1.00", "refund_of": "nope"}, "refund_of"},
		{"bad email", base("customer_email", "x"), "customer_email"},
		{"bad ip", base("customer_ip", "300.1.1.1"), "customer_ip"},
		{"bad click id", base("click_id", "abc"), "click_id"},
		{"unknown field", base("commission", "100"), "commission"},
	}
	before := countRows(t, "conversions")
	for _, c := range cases {
		r := f.convert(t, c.body)
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code == "" || field != c.field {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if r := f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "10.00", "currency": "USD"}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("wrong currency: %d", r.status)
	}
	// A tampered token is no attribution (and no error): stored unattributed with the reason.
	r := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "10.00", "click_token": strings.Repeat("A", 120)}), http.StatusCreated)
	if r.str("partner_id") != "" || !strings.Contains(r.str("unattributed_reason"), "tampered") {
		t.Fatalf("tampered token: %s", r.raw)
	}
	if countRows(t, "conversions") != before+1 {
		t.Fatal("a refused conversion was stored")
	}
}

// The affiliate report to the cent against a hand-computed fixture.
func TestAffiliateReport(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "")
	var tokens []string
	for i := range 4 { // four browsers
		_, tok := click(t, code, "", fmt.Sprintf("%s #%d", browser, i))
		tokens = append(tokens, tok)
	}
	click(t, code, "", "Googlebot/2.1") // flagged
	eventually(t, "clicks stored", func() bool {
		var n int
		_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM clicks WHERE partner_id = $1", f.partnerID).Scan(&n)
		return n == 6 // with the cache probe
	})
	clickStatsAgree(t)
	for i, amount := range []string{"100.00", "33.33"} {
		tk, _ := domain.ParseClickToken(tokens[i], testTokenKey)
		expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": amount, "click_token": tokens[i],
			"occurred_at": tk.ClickedAt.Add(time.Minute).Format(time.RFC3339)}), http.StatusCreated)
	}
	r := expect(t, do(t, call{method: "GET", path: "/v1/reports/affiliate?group_by=partner&program_id=" + f.programID + "&to=" + time.Now().AddDate(0, 0, 1).Format(time.DateOnly), key: f.manager}), http.StatusOK)
	g := r.body["groups"].([]any)
	if len(g) != 1 {
		t.Fatalf("groups: %s", r.raw)
	}
	row := g[0].(map[string]any)
	// 6 clicks: 4 browsers + Googlebot + the cache probe (Go's HTTP client: a bot too) → 4 unique, 2 flagged.
	// Revenue 133.33; commission 20.00 + 6.67 (33.33 × 20% = 6.666) = 26.67; rate 2/4; EPC 26.67 / 4 = 6.6675.
	got := fmt.Sprintf("%v %v %v %v %v %v %v %v", row["clicks"], row["unique_clicks"], row["flagged_clicks"], row["conversions"], row["revenue"], row["commission"], row["conversion_rate"], row["epc"])
	if want := "6 4 2 2 133.33 26.67 0.5000 6.6675"; got != want {
		t.Fatalf("report %q, want %q", got, want)
	}
	if row["group_label"] == row["group_key"] || row["group_label"] == "" {
		t.Fatalf("no label beside the partner's id: %s", r.raw)
	}
	// A partner reads only its own numbers.
	if r := expect(t, do(t, call{method: "GET", path: "/v1/reports/affiliate?program_id=" + f.programID, key: f.partnerKey}), http.StatusOK); len(r.body["groups"].([]any)) > 1 {
		t.Fatalf("partner's report: %s", r.raw)
	}

	// A coupon conversion has no link: grouped by link it is its own row (not a
	// 500), and it does not count toward the conversion rate of clicks.
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	conv := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "10.00", "coupon_code": coupon}), http.StatusCreated)
	if strings.Contains(string(conv.raw), "request_hash") {
		t.Fatalf("an internal field in the answer: %s", conv.raw)
	}
	r = expect(t, do(t, call{method: "GET", path: "/v1/reports/affiliate?group_by=link&program_id=" + f.programID + "&to=" + time.Now().AddDate(0, 0, 1).Format(time.DateOnly), key: f.manager}), http.StatusOK)
	byKey := map[string]map[string]any{}
	for _, g := range r.body["groups"].([]any) {
		byKey[g.(map[string]any)["group_key"].(string)] = g.(map[string]any)
	}
	noLink, ok := byKey["no_link"]
	if !ok || noLink["conversions"] != float64(1) || noLink["clicks"] != float64(0) || noLink["conversion_rate"] != nil || !strings.HasPrefix(noLink["group_label"].(string), "no link") {
		t.Fatalf("no-link row: %s", r.raw)
	}
	linkRow := byKey[tokensLink(t, tokens[0])]
	if linkRow == nil || linkRow["conversion_rate"] != "0.5000" || !strings.HasPrefix(linkRow["group_label"].(string), code+" → ") {
		t.Fatalf("link row: %s", r.raw)
	}
	r = expect(t, do(t, call{method: "GET", path: "/v1/reports/affiliate?group_by=partner&program_id=" + f.programID + "&to=" + time.Now().AddDate(0, 0, 1).Format(time.DateOnly), key: f.manager}), http.StatusOK)
	if row := r.body["groups"].([]any)[0].(map[string]any); row["conversions"] != float64(3) || row["click_conversions"] != float64(2) || row["conversion_rate"] != "0.5000" {
		t.Fatalf("the coupon conversion counted toward the click conversion rate: %s", r.raw)
	}
}

// clickStatsAgree checks that the writer's per-day counts equal what the clicks
// table holds, for every program, link and UTC day (one statement: one snapshot,
// and the writer commits a batch's clicks and counts together).
func clickStatsAgree(t *testing.T) {
	t.Helper()
	var wrong, rows int
	err := sys.store.Pool.QueryRow(context.Background(), `
		WITH a AS (
			SELECT program_id, (clicked_at AT TIME ZONE 'UTC')::date AS day, link_id, min(partner_id::text)::uuid AS partner_id, count(*) AS clicks,
			       count(*) FILTER (WHERE NOT duplicate AND NOT bot AND NOT malformed) AS unique_clicks,
			       count(*) FILTER (WHERE bot OR malformed OR duplicate) AS flagged_clicks
			FROM clicks GROUP BY 1, 2, 3)
		SELECT count(*) FILTER (WHERE a.link_id IS NULL OR s.link_id IS NULL OR (a.partner_id, a.clicks, a.unique_clicks, a.flagged_clicks)
		                                 IS DISTINCT FROM (s.partner_id, s.clicks, s.unique_clicks, s.flagged_clicks)), count(*)
		FROM a FULL JOIN click_stats s ON (s.program_id, s.day, s.link_id) = (a.program_id, a.day, a.link_id)`).Scan(&wrong, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if wrong > 0 || rows == 0 {
		t.Fatalf("click_stats disagrees with clicks on %d of %d (program, day, link) rows", wrong, rows)
	}
}

func tokensLink(t *testing.T, token string) string {
	t.Helper()
	tk, err := domain.ParseClickToken(token, testTokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return tk.LinkID.String()
}

// Stop the server under load: every click answered with a 302 is stored.
func TestEveryAnsweredClickIsStoredOnShutdown(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "")
	cfg := testAPIConfig()
	cfg.Click.FlushInterval = time.Second // clicks wait in the queue: shutdown must flush them
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	base := "http://" + ln.Addr().String()
	var answered atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				req, _ := http.NewRequest(http.MethodGet, base+"/c/"+code, nil)
				req.Header.Set("User-Agent", browser) // a browser: repeats are duplicates, not bots
				resp, err := noFollow.Do(req)
				if err != nil {
					return // the server has stopped
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusFound {
					answered.Add(1)
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	// Graceful shutdown under load, as serve does it: in-flight requests finish,
	// then the clicker flushes what is queued.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s.Close()
	accepted, dropped, stored, lost := s.Clicker().Counts()
	if answered.Load() < 100 || float64(answered.Load()) != accepted+dropped || dropped != 0 || lost != 0 || stored != accepted {
		t.Fatalf("answered %d, accepted %v, dropped %v, stored %v, lost %v", answered.Load(), accepted, dropped, stored, lost)
	}
	t.Logf("%d clicks answered and stored", answered.Load())
	clickStatsAgree(t) // and counted, batch by batch
}

// Every affiliate configuration endpoint refuses bad input with a 4xx naming the
// field, and stores nothing.
func TestBadAffiliateSettingsWriteNothing(t *testing.T) {
	f := affiliateProgram(t)
	cases := []struct {
		name, method, path, key string
		body                    map[string]any
		field                   string
	}{
		{"link: no destination", "POST", "/v1/links", f.partnerKey, map[string]any{}, "destination"},
		{"link: bad sub_id", "POST", "/v1/links", f.partnerKey, map[string]any{"destination": "https://shop.example/", "sub_id": "a b<c>"}, "sub_id"},
		{"link: ftp", "POST", "/v1/links", f.partnerKey, map[string]any{"destination": "ftp://shop.example/"}, "destination"},
		{"coupon: bad code", "POST", "/v1/coupons", f.manager, map[string]any{"partner_id": f.partnerID, "code": "no spaces!"}, "code"},
		{"coupon: short code", "POST", "/v1/coupons", f.manager, map[string]any{"partner_id": f.partnerID, "code": "AB"}, "code"},
		{"coupon: unknown partner", "POST", "/v1/coupons", f.manager, map[string]any{"partner_id": uuid.NewString()}, "partner_id"},
		{"rule: rate above 1", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "1.5"}, "rate"},
		{"rule: percent without rate", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent"}, "rate"},
		{"rule: flat without amount", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "lead", "kind": "flat"}, "amount"},
		{"rule: bad event", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "click", "kind": "flat", "amount": "1.00"}, "event"},
		{"rule: recurring without months", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.1", "recurring": "months"}, "recurring_months"},
		{"rule: tier and partner", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.1", "tier_id": uuid.NewString(), "partner_id": f.partnerID}, "partner_id"},
		{"rule: bad volume tier", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.1", "volume_tiers": []map[string]any{{"from_count": 0, "rate": "0.2"}}}, "volume_tiers"},
		{"rule: ends before it starts", "POST", "/v1/commission-rules", f.admin, map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.1", "effective_from": "2026-05-01T00:00:00Z", "effective_to": "2026-04-01T00:00:00Z"}, "effective_to"},
		{"settings: no domains", "PUT", "/v1/programs/" + f.programID + "/affiliate", f.admin, map[string]any{"allowed_domains": []string{}}, "allowed_domains"},
		{"settings: bad domain", "PUT", "/v1/programs/" + f.programID + "/affiliate", f.admin, map[string]any{"allowed_domains": []string{"not a domain"}}, "allowed_domains"},
		{"settings: window 0", "PUT", "/v1/programs/" + f.programID + "/affiliate", f.admin, map[string]any{"allowed_domains": []string{"shop.example"}, "cookie_window_days": 400}, "cookie_window_days"},
		{"settings: bad model", "PUT", "/v1/programs/" + f.programID + "/affiliate", f.admin, map[string]any{"allowed_domains": []string{"shop.example"}, "attribution_model": "linear"}, "attribution_model"},
		{"settings: off-domain fallback", "PUT", "/v1/programs/" + f.programID + "/affiliate", f.admin, map[string]any{"allowed_domains": []string{"shop.example"}, "fallback_url": "https://evil.example/"}, "fallback_url"},
		{"payouts: bad provider", "PUT", "/v1/programs/" + f.programID + "/payouts", f.admin, map[string]any{"payout_minimum": "50.00", "payout_provider": "cash"}, "payout_provider"},
		{"payouts: negative minimum", "PUT", "/v1/programs/" + f.programID + "/payouts", f.admin, map[string]any{"payout_minimum": "-1.00", "payout_provider": "file"}, "payout_minimum"},
	}
	links, coupons, rules := countRows(t, "links"), countRows(t, "coupons"), countRows(t, "commission_rules")
	for _, c := range cases {
		r := do(t, call{method: c.method, path: c.path, key: c.key, body: c.body})
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code == "" || field != c.field {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if countRows(t, "links") != links || countRows(t, "coupons") != coupons || countRows(t, "commission_rules") != rules {
		t.Fatal("refused input was stored")
	}
	p := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK)
	if p.str("attribution_model") != "last_click" || p.str("payout_provider") != "file" {
		t.Fatalf("settings changed: %s", p.raw)
	}
}

// Under first-click attribution a later click does not replace a valid cookie.
func TestFirstClickKeepsTheCookie(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "") // made under last-click
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "attribution_model": "first_click", "cookie_window_days": 7}}), http.StatusOK)
	var first *http.Response
	var token string
	eventually(t, "the existing link to pick up the program's new settings", func() bool {
		first, token = click(t, code, "", browser)
		for _, c := range first.Cookies() {
			if c.MaxAge == 7*24*3600 {
				return true
			}
		}
		return false
	})
	if first.StatusCode != http.StatusFound || token == "" {
		t.Fatalf("first click: %d %q", first.StatusCode, token)
	}
	req, _ := http.NewRequest("GET", sys.api.URL+"/c/"+code, nil)
	req.Header.Set("User-Agent", browser+" again")
	req.AddCookie(&http.Cookie{Name: "po_click", Value: token})
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || len(resp.Cookies()) != 0 {
		t.Fatalf("second click replaced the first: %d %v", resp.StatusCode, resp.Cookies())
	}
}

// Recurring commissions: the customer's first payment binds them to the partner;
// later payments credit the partner through the binding, within the rule's months.
func TestRecurringCommissionsThroughTheCustomerBinding(t *testing.T) {
	f := affiliateProgram(t)
	from := time.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339)
	expect(t, do(t, call{method: "POST", path: "/v1/commission-rules", key: f.admin, body: map[string]any{"program_id": f.programID, "partner_id": f.partnerID,
		"event": "sale", "kind": "percent", "rate": "0.30", "recurring": "months", "recurring_months": 3, "effective_from": from}}), http.StatusCreated)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	customer := "cust-" + uuid.NewString()
	start := time.Now().AddDate(0, -5, 0).UTC()
	pay := func(monthsLater int, withCoupon bool) response {
		body := map[string]any{"external_id": fmt.Sprintf("sub-%s-%d", customer, monthsLater), "kind": "subscription_payment", "amount": "50.00",
			"customer_ref": customer, "occurred_at": start.AddDate(0, monthsLater, 0).Format(time.RFC3339)}
		if withCoupon {
			body["coupon_code"] = coupon
		}
		return expect(t, f.convert(t, body), http.StatusCreated)
	}
	first := pay(0, true) // partner rule: 30%, over the program's 20%
	if first.str("attribution_method") != "coupon" || first.body["commission_lines"].([]any)[0].(map[string]any)["amount"] != "15.00" {
		t.Fatalf("first payment: %s", first.raw)
	}
	second := pay(2, false) // no coupon, no click: the binding credits the partner
	if second.str("attribution_method") != "customer_binding" || second.str("partner_id") != f.partnerID ||
		second.body["commission_lines"].([]any)[0].(map[string]any)["amount"] != "15.00" {
		t.Fatalf("month 2: %s", second.raw)
	}
	late := pay(4, false) // past the rule's 3 months: attributed, but no commission
	if late.str("partner_id") != f.partnerID || len(late.body["commission_lines"].([]any)) != 0 {
		t.Fatalf("month 4: %s", late.raw)
	}
}

// When the writer cannot keep up, the handler still answers every click, and the
// loss is counted, never silent; unknown codes are counted too.
func TestFullClickQueueStillAnswersAndCounts(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "")
	cfg := testAPIConfig()
	cfg.Click.QueueSize, cfg.Click.BatchSize = 4, 1
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	// Hold the clicks table: the writer's COPY waits, the queue fills.
	ctx := context.Background()
	tx, err := sys.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE clicks IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		resp, err := noFollow.Get(srv.URL + "/c/" + code)
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("click while the writer is stuck: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if resp, _ := noFollow.Get(srv.URL + "/c/no-such-code"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown code: %d", resp.StatusCode)
	}
	accepted, dropped, _, _ := s.Clicker().Counts()
	rec := httptest.NewRecorder() // the metrics handler (its own listener, outside the API document)
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := response{status: rec.Code, raw: rec.Body.Bytes()}
	_ = tx.Rollback(ctx)
	srv.Close()
	s.Close()
	_, _, stored, lost := s.Clicker().Counts()
	if accepted+dropped != 50 || dropped < 40 || stored != accepted || lost != 0 {
		t.Fatalf("accepted %v dropped %v stored %v lost %v", accepted, dropped, stored, lost)
	}
	for _, want := range []string{fmt.Sprintf("partnerops_clicks_dropped_total %v", dropped), "partnerops_clicks_unknown_total 1", "partnerops_click_queue_depth"} {
		if !strings.Contains(string(metrics.raw), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
