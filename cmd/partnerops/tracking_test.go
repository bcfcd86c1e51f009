//go:build e2e

package main

import (
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/domain"
)

// clickAt clicks with another Host header (a custom tracking domain) and answers
// the redirect's location and the po_click cookie's Set-Cookie line.
func clickAt(t *testing.T, base, host, code, query string) (status int, loc *url.URL, setCookie string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/c/"+code+query, nil)
	req.Header.Set("User-Agent", browser)
	if host != "" {
		req.Host = host
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "po_click=") {
			setCookie = sc
		}
	}
	return resp.StatusCode, loc, setCookie
}

// The redirect carries a short click id to the merchant under the program's
// parameter, whatever the destination and the request's query look like, and the
// merchant's postback with that id is attributed to the click.
func TestClickIDReachesTheMerchant(t *testing.T) {
	f := affiliateProgram(t)
	plain := f.link(t, "https://shop.example/spring", "")
	withQuery := f.link(t, "https://shop.example/spring?lang=en&po_click_id=stale", "news-7")
	withFragment := f.link(t, "https://shop.example/p?x=1#reviews", "")

	cases := []struct {
		code, query string
		check       func(q url.Values, loc *url.URL) bool
	}{
		{plain, "", func(q url.Values, loc *url.URL) bool { return loc.Path == "/spring" && len(q) == 1 }},
		{plain, "?utm_source=blog", func(q url.Values, _ *url.URL) bool { return q.Get("utm_source") == "blog" && len(q) == 2 }},
		{withQuery, "", func(q url.Values, _ *url.URL) bool {
			return q.Get("lang") == "en" && q.Get("sub_id") == "news-7" && len(q["po_click_id"]) == 1
		}},
		{withQuery, "?lang=de&utm_medium=mail", func(q url.Values, _ *url.URL) bool {
			return q.Get("lang") == "en" && q.Get("utm_medium") == "mail" && q.Get("sub_id") == "news-7"
		}},
		// A click id arriving in the request is replaced, never passed on.
		{plain, "?po_click_id=forged-by-someone", func(q url.Values, _ *url.URL) bool { return len(q["po_click_id"]) == 1 }},
		{withFragment, "", func(q url.Values, loc *url.URL) bool { return q.Get("x") == "1" && loc.Fragment == "reviews" }},
		{withFragment, "?a=b", func(q url.Values, loc *url.URL) bool { return q.Get("a") == "b" && loc.Fragment == "reviews" }},
	}
	var lastID uuid.UUID
	for _, c := range cases {
		status, loc, sc := clickAt(t, sys.api.URL, "", c.code, c.query)
		q := loc.Query()
		id, err := domain.ParseClickID(q.Get("po_click_id"))
		tok, terr := domain.ParseClickToken(strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], "po_click="), testTokenKey)
		if status != http.StatusFound || err != nil || len(q.Get("po_click_id")) != 22 || terr != nil || tok.ClickID != id || !c.check(q, loc) {
			t.Fatalf("click %s%s: %d → %s (%v, token %v)", c.code, c.query, status, loc, err, terr)
		}
		lastID = id
	}

	// The merchant posts the sale back with the id it received, at once (no wait
	// for the click writer: see TestPostbackRightAfterItsClick): attributed by click id.
	sale := expect(t, f.convert(t, map[string]any{"external_id": "order-" + uuid.NewString(), "kind": "sale", "amount": "50.00",
		"click_id": domain.ShortClickID(lastID), "occurred_at": time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)}), http.StatusCreated)
	if sale.str("attribution_method") != "click_id" || sale.str("click_id") != lastID.String() || sale.str("partner_id") != f.partnerID {
		t.Fatalf("conversion with the short click id: %s", sale.raw)
	}
	// A malformed click id is a 422 on its field and writes nothing.
	before := countRows(t, "conversions")
	for _, bad := range []string{"not-a-click", "AAAAAAAAAAAAAAAAAAAA*A", strings.Repeat("a", 37)} {
		r := f.convert(t, map[string]any{"external_id": "order-" + uuid.NewString(), "kind": "sale", "amount": "5.00", "click_id": bad,
			"occurred_at": time.Now().UTC().Format(time.RFC3339)})
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || field != "click_id" {
			t.Errorf("click_id %q: %d %s %s", bad, r.status, code, field)
		}
	}
	if after := countRows(t, "conversions"); after != before {
		t.Fatalf("bad click ids wrote %d conversions", after-before)
	}

	// The program names its own parameter: the next redirects use it.
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "click_id_param": "irclickid"}}), http.StatusOK)
	eventually(t, "the program's parameter in the redirect", func() bool {
		_, loc, _ := clickAt(t, sys.api.URL, "", plain, "")
		return len(loc.Query().Get("irclickid")) == 22 && loc.Query().Get("po_click_id") == ""
	})
	for _, bad := range []string{"1abc", "a-b", "a b", strings.Repeat("x", 33)} {
		r := do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
			body: map[string]any{"allowed_domains": []string{"shop.example"}, "click_id_param": bad}})
		if _, field := r.errCode(); r.status != http.StatusUnprocessableEntity || field != "click_id_param" {
			t.Errorf("click_id_param %q: %d %s", bad, r.status, r.raw)
		}
	}
}

// A click on the program's own tracking domain sets the cookie for the
// merchant's registrable domain; elsewhere it stays host-only. Another program's
// tracking domain does not serve this program's links.
func TestCustomTrackingDomain(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/", "")
	host := "go-" + strings.ToLower(code) + ".shop.example"
	settings := func(p, domain string) response {
		return do(t, call{method: "PUT", path: "/v1/programs/" + p + "/affiliate", key: f.admin,
			body: map[string]any{"allowed_domains": []string{"shop.example"}, "tracking_domain": domain}})
	}
	r := expect(t, settings(f.programID, strings.ToUpper(host)+"."), http.StatusOK)
	if r.str("tracking_domain") != host {
		t.Fatalf("tracking domain stored as %s", r.raw)
	}
	eventually(t, "the cookie for the merchant's domain", func() bool {
		status, _, sc := clickAt(t, sys.api.URL, host, code, "")
		return status == http.StatusFound && strings.Contains(sc, "; Domain=shop.example") && strings.Contains(sc, "HttpOnly") &&
			strings.Contains(sc, "SameSite=Lax") && strings.Contains(sc, "Max-Age=2592000")
	})
	if _, _, sc := clickAt(t, sys.api.URL, host+":443", code, ""); !strings.Contains(sc, "; Domain=shop.example") {
		t.Fatalf("with a port: %s", sc)
	}
	req, _ := http.NewRequest("GET", sys.api.URL+"/c/"+code, nil)
	req.Host, req.Header = host, http.Header{"X-Forwarded-Proto": {"https"}, "User-Agent": {browser}}
	if resp, err := noFollow.Do(req); err != nil || !strings.Contains(resp.Header.Get("Set-Cookie"), "; Secure") {
		t.Fatalf("behind TLS termination: %v %v", resp.Header, err)
	}
	if _, _, sc := clickAt(t, sys.api.URL, "", code, ""); sc == "" || strings.Contains(sc, "Domain=") {
		t.Fatalf("on the tracker's own host the cookie is host-only: %s", sc)
	}

	// Another program with its own domain: neither serves the other's links.
	other := affiliateProgram(t)
	otherCode := other.link(t, "https://shop.example/", "")
	otherHost := "go-" + strings.ToLower(otherCode) + ".other.example"
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + other.programID + "/affiliate", key: other.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "tracking_domain": otherHost}}), http.StatusOK)
	eventually(t, "the other program's domain refusing this program's link", func() bool {
		status, _, _ := clickAt(t, sys.api.URL, otherHost, code, "")
		return status == http.StatusNotFound
	})
	if status, _, sc := clickAt(t, sys.api.URL, otherHost, otherCode, ""); status != http.StatusFound || !strings.Contains(sc, "Domain=other.example") {
		t.Fatalf("the other program's own link on its domain: %d %s", status, sc)
	}

	// Taken, malformed or public-suffix domains are refused and change nothing.
	if r := settings(other.programID, host); r.status != http.StatusConflict || r.str("error", "code") != "tracking_domain_taken" {
		t.Fatalf("a taken domain: %d %s", r.status, r.raw)
	}
	for _, bad := range []string{"co.uk", "localhost", "https://go.shop.example", "go.shop.example/path", "10.0.0.1", "go_shop.example", "\u0000x.example"} {
		if r := settings(f.programID, bad); r.status/100 != 4 || r.status == http.StatusOK {
			t.Errorf("tracking_domain %q: %d", bad, r.status)
		} else if _, field := r.errCode(); r.status == http.StatusUnprocessableEntity && field != "tracking_domain" {
			t.Errorf("tracking_domain %q: field %q", bad, field)
		}
	}
	if p := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK); p.str("tracking_domain") != host {
		t.Fatalf("after refused changes: %s", p.raw)
	}
	// "" removes it; absent keeps it.
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}}}), http.StatusOK)
	if p := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK); p.str("tracking_domain") != host {
		t.Fatalf("absent removed it: %s", p.raw)
	}
	if r := expect(t, settings(f.programID, ""), http.StatusOK); r.body["tracking_domain"] != nil {
		t.Fatalf("\"\" kept it: %s", r.raw)
	}
}

// A link created after the cache's last refresh resolves at once (looked up in
// PostgreSQL once), and a made-up code is looked up once per refresh.
func TestNewLinkResolvesBeforeTheCacheRefreshes(t *testing.T) {
	f := affiliateProgram(t)
	cfg := testAPIConfig()
	cfg.Click.Refresh = time.Hour
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer func() { srv.Close(); s.Close() }()
	r := expect(t, do(t, call{method: "POST", path: "/v1/links", key: f.partnerKey, body: map[string]any{"destination": "https://shop.example/new"}}), http.StatusCreated)
	before := s.Clicker().CachedLinks()
	status, loc, _ := clickAt(t, srv.URL, "", r.str("code"), "")
	if status != http.StatusFound || loc.Path != "/new" || s.Clicker().CachedLinks() != before+1 {
		t.Fatalf("a new link: %d %s (cache %d → %d)", status, loc, before, s.Clicker().CachedLinks())
	}
	for range 3 {
		if status, _, _ := clickAt(t, srv.URL, "", "NO-SUCH-"+r.str("code"), ""); status != http.StatusNotFound {
			t.Fatalf("a made-up code: %d", status)
		}
	}
	if got := s.Clicker().Lookups(); got != 2 { // the new link, and the made-up code once
		t.Fatalf("%d lookups, want 2", got)
	}
}

// The merchant's snippet is small, cacheable and calls nothing.
func TestTrackingSnippet(t *testing.T) {
	resp, err := http.Get(sys.api.URL + "/t.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		resp.Header.Get("Cache-Control") != "public, max-age=86400" || resp.Header.Get("ETag") == "" || len(body) >= 2048 {
		t.Fatalf("t.js: %d %v %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	for _, never := range []string{"http://", "https://", "fetch(", "XMLHttpRequest", "sendBeacon", "import("} {
		if strings.Contains(string(body), never) {
			t.Errorf("the snippet contains %q", never)
		}
	}
	req, _ := http.NewRequest("GET", sys.api.URL+"/t.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil || again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %v %v", again, err)
	}
	again.Body.Close()
}

// A postback by click id that follows its click before the click writer's next
// flush still finds the click: the API writes what is queued first
// (Clicker.AwaitStored). A postback naming an older click does not make it
// flush. Here the writer's interval is an hour, so only that wait writes.
func TestPostbackRightAfterItsClick(t *testing.T) {
	f := affiliateProgram(t)
	code := f.link(t, "https://shop.example/now", "")
	cfg := testAPIConfig()
	cfg.Click.FlushInterval = time.Hour
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	status, loc, _ := clickAt(t, ts.URL, "", code, "")
	id, err := domain.ParseClickID(loc.Query().Get("po_click_id"))
	if status != http.StatusFound || err != nil {
		t.Fatalf("click: %d %s", status, loc)
	}
	post := func(clickID string) response {
		return doAt(t, ts.URL, call{method: "POST", path: "/v1/conversions", key: f.integration, body: map[string]any{"program_id": f.programID,
			"external_id": "order-" + uuid.NewString(), "kind": "sale", "amount": "30.00", "currency": "EUR", "click_id": clickID,
			"occurred_at": time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)}})
	}
	sale := expect(t, post(domain.ShortClickID(id)), http.StatusCreated)
	if sale.str("attribution_method") != "click_id" || sale.str("click_id") != id.String() || sale.str("partner_id") != f.partnerID {
		t.Fatalf("postback right after its click: %s", sale.raw)
	}
	if _, _, stored, _ := s.Clicker().Counts(); stored != 1 {
		t.Fatalf("stored %v clicks, want the one the postback waited for", stored)
	}

	// Another click waits in the queue; a postback naming a click of an hour ago
	// (unknown here) is answered without writing it.
	if status, _, _ := clickAt(t, ts.URL, "", code, ""); status != http.StatusFound {
		t.Fatalf("second click: %d", status)
	}
	old := uuid.Must(uuid.NewV7())
	binary.BigEndian.PutUint64(old[:8], uint64(time.Now().Add(-time.Hour).UnixMilli())<<16|binary.BigEndian.Uint64(old[:8])&0xffff)
	unknown := expect(t, post(domain.ShortClickID(old)), http.StatusCreated)
	if unknown.str("attribution_method") == "click_id" {
		t.Fatalf("attributed to a click that does not exist: %s", unknown.raw)
	}
	if _, _, stored, _ := s.Clicker().Counts(); stored != 1 {
		t.Fatalf("stored %v clicks: an old click id made the writer flush", stored)
	}
	s.Close() // what is queued is written on stop
	if _, _, stored, _ := s.Clicker().Counts(); stored != 2 {
		t.Fatalf("stored %v clicks after stop, want 2", stored)
	}
}
