package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gin-gonic/gin"
)

// The click's 302 carries the destination as built, with no body, and the
// cookie when there is one; a destination that is not plain printable ASCII
// goes through http.Redirect's escaping, the cookie still set.
func TestRedirectWritesLocationAlone(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const cookie = "po_click=AQ; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
	for _, tc := range []struct {
		to, location string
		withCookie   bool
	}{
		{"https://shop.example/p?a=1&po_click_id=AZqL3m9xR2e8Yq0JtW5k1A", "https://shop.example/p?a=1&po_click_id=AZqL3m9xR2e8Yq0JtW5k1A", false},
		{"https://shop.example/p?po_click_id=AZqL3m9xR2e8Yq0JtW5k1A", "https://shop.example/p?po_click_id=AZqL3m9xR2e8Yq0JtW5k1A", true},
		{"https://shop.example/caf\u00e9", "https://shop.example/caf%c3%a9", false},
		{"https://shop.example/caf\u00e9", "https://shop.example/caf%c3%a9", true},
	} {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest("GET", "/c/x", nil)
		var values []string
		if tc.withCookie {
			values = []string{cookie, tc.to}
		}
		redirect(c, tc.to, values)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.location {
			t.Errorf("%q: %d %q", tc.to, rec.Code, rec.Header().Get("Location"))
		}
		if got := rec.Header().Values("Set-Cookie"); tc.withCookie && (len(got) != 1 || got[0] != cookie) || !tc.withCookie && len(got) != 0 {
			t.Errorf("%q: Set-Cookie %q", tc.to, got)
		}
		if plain := tc.to == tc.location; plain && rec.Body.Len() != 0 {
			t.Errorf("%q: a body of %d bytes", tc.to, rec.Body.Len())
		}
	}
}

// clientIP answers what gin's ClientIP answers, in canonical form, for trusted
// and untrusted proxies, with and without forwarding headers.
func TestClientIPMatchesGin(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, trusted := range [][]string{nil, {"127.0.0.1"}, {"0.0.0.0/0", "::/0"}} {
		e := gin.New()
		if err := e.SetTrustedProxies(trusted); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			remote string
			header map[string]string
		}{
			{"127.0.0.1:40000", nil},
			{"203.0.113.9:1", nil},
			{"[::1]:40000", nil},
			{"[2001:db8::1]:443", nil},
			{"[::ffff:192.0.2.1]:80", nil},
			{"192.0.2.1", nil},      // no port
			{"garbage:80", nil},     // not an address
			{"01.2.3.4:80", nil},    // not a canonical spelling
			{" 192.0.2.7:80 ", nil}, // spaces
			{"127.0.0.1:40000", map[string]string{"X-Forwarded-For": "198.51.100.4"}},
			{"127.0.0.1:40000", map[string]string{"X-Real-Ip": "198.51.100.5"}},
			{"10.0.0.1:40000", map[string]string{"X-Forwarded-For": "198.51.100.4, 10.0.0.2"}},
			{"127.0.0.1:40000", map[string]string{"X-Forwarded-For": "::FFFF:198.51.100.6"}},
			{"127.0.0.1:40000", map[string]string{"X-Forwarded-For": "2001:DB8:0:0::1"}},
		} {
			c := gin.CreateTestContextOnly(httptest.NewRecorder(), e)
			c.Request = httptest.NewRequest("GET", "/c/x", nil)
			c.Request.RemoteAddr = tc.remote
			for k, v := range tc.header {
				c.Request.Header.Set(k, v)
			}
			want := c.ClientIP()
			if a, err := netip.ParseAddr(want); err == nil {
				want = a.Unmap().String()
			}
			if got := clientIP(c); got != want {
				t.Errorf("trusted %v, remote %q, headers %v: %q, gin says %q", trusted, tc.remote, tc.header, got, want)
			}
		}
	}
}

// One address, one spelling: what is hashed for clicks, partners and customers.
func TestCanonicalIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"::ffff:203.0.113.9":   "203.0.113.9",
		"::FFFF:CB00:7109":     "203.0.113.9",
		"2001:DB8:0:0:0:0:0:1": "2001:db8::1",
		"2001:db8::1":          "2001:db8::1",
		"::1":                  "::1",
		"":                     "",
		"not an address":       "not an address",
	} {
		if got := canonicalIP(in); got != want {
			t.Errorf("canonicalIP(%q) = %q, want %q", in, got, want)
		}
	}
}
