package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.AuthFailuresPerMinute = 0 // this test sends a bad key to every route from one address
	s, err := New(cfg, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every route gin serves must have declared roles (deny by default) and be
// described by the OpenAPI document; every documented operation must exist.
func TestEveryRouteDeclaresRolesAndIsDocumented(t *testing.T) {
	s := newTestServer(t)
	declared := map[string][]string{}
	for _, r := range s.Routes() {
		declared[r.Method+" "+r.Path] = r.Roles
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	pages := map[string][]string{}
	for _, p := range s.Pages() {
		pages[p.Method+" "+p.Path] = p.Roles
	}
	served := map[string]bool{}
	for _, r := range s.engine.Routes() {
		key := r.Method + " " + openAPIPath(r.Path)
		if roles, page := pages[key]; page || key == "GET /portal.css" {
			// The portal's pages are HTML, not API: roles, but no OpenAPI entry.
			if page && len(roles) == 0 {
				t.Errorf("page %s has no declared roles", key)
			}
			continue
		}
		served[key] = true
		if roles := declared[key]; len(roles) == 0 {
			t.Errorf("%s has no declared roles", key)
		}
		if _, ok := doc.Paths[openAPIPath(r.Path)][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s is not described in openapi.yaml", key)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if key := strings.ToUpper(method) + " " + path; !served[key] {
				t.Errorf("openapi.yaml describes %s, which is not served", key)
			}
		}
	}
	if len(served) < 15 {
		t.Fatalf("only %d routes: the walk found too few to be meaningful", len(served))
	}
}

// Without a key, every non-public route answers 401 in the error shape, before
// any handler or database is reached (the test server has no database).
func TestNonPublicRoutesNeedAKey(t *testing.T) {
	s := newTestServer(t)
	for _, r := range s.Routes() {
		if r.Roles[0] == Public {
			continue
		}
		path := strings.ReplaceAll(r.Path, "{id}", "0190f3c4-0000-7000-8000-000000000001")
		for _, auth := range []string{"", "Bearer nonsense", "Basic abc"} {
			req := httptest.NewRequest(r.Method, path, strings.NewReader("{}"))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			var body ErrorBody
			if rec.Code != http.StatusUnauthorized || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != "unauthenticated" {
				t.Errorf("%s %s with %q: %d %s", r.Method, path, auth, rec.Code, rec.Body)
			}
		}
	}
}

func TestRegisteringARouteWithoutRolesPanics(t *testing.T) {
	s := newTestServer(t)
	defer func() {
		if recover() == nil {
			t.Fatal("a route without roles was registered")
		}
	}()
	s.handle(s.engine, http.MethodGet, "/v1/nobody", nil, func(c *gin.Context) {})
}

func TestUnknownRouteAndMethodAnswerJSON(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{{"GET", "/v1/nope", 404}, {"PUT", "/v1/programs", 405}} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		var body ErrorBody
		if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code == "" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
}
