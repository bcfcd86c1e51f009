package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// The click's 302 carries the destination as built, with no body; a destination
// that is not plain printable ASCII goes through http.Redirect's escaping.
func TestRedirectWritesLocationAlone(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, tc := range []struct{ to, location string }{
		{"https://shop.example/p?a=1&po_click_id=AZqL3m9xR2e8Yq0JtW5k1A", "https://shop.example/p?a=1&po_click_id=AZqL3m9xR2e8Yq0JtW5k1A"},
		{"https://shop.example/caf\u00e9", "https://shop.example/caf%c3%a9"},
	} {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest("GET", "/c/x", nil)
		redirect(c, tc.to)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.location {
			t.Errorf("%q: %d %q", tc.to, rec.Code, rec.Header().Get("Location"))
		}
		if plain := tc.to == tc.location; plain && rec.Body.Len() != 0 {
			t.Errorf("%q: a body of %d bytes", tc.to, rec.Body.Len())
		}
	}
}
