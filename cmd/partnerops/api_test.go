//go:build e2e

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

func TestAuthentication(t *testing.T) {
	f := newProgram(t)
	revoked := expect(t, do(t, call{method: "POST", path: "/v1/keys", key: f.admin, body: map[string]any{"role": "manager"}}), http.StatusCreated)
	expect(t, do(t, call{method: "DELETE", path: "/v1/keys/" + revoked.str("id"), key: f.admin}), http.StatusNoContent)
	expect(t, do(t, call{method: "DELETE", path: "/v1/keys/" + revoked.str("id"), key: f.admin}), http.StatusNoContent) // idempotent
	expect(t, do(t, call{method: "DELETE", path: "/v1/keys/" + uuid.NewString(), key: f.admin}), http.StatusNotFound)

	validLooking, _, _ := domain.NewAPIKey(domain.RoleManager) // well-formed, never stored
	tampered := f.manager[:len(f.manager)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(f.manager, "a")]
	for name, key := range map[string]string{"none": "", "garbage": "hello", "unknown": validLooking, "tampered": tampered, "revoked": revoked.str("key")} {
		r := do(t, call{method: "GET", path: "/v1/applications", key: key})
		if code, _ := r.errCode(); r.status != http.StatusUnauthorized || code != "unauthenticated" {
			t.Errorf("%s key: %d %s", name, r.status, r.raw)
		}
	}
	expect(t, do(t, call{method: "GET", path: "/v1/applications", key: f.manager}), http.StatusOK)
}

// A role can never do another role's work: each pair answers 403.
func TestRolesAreEnforced(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	partnerKey := newKey(t, domain.RolePartner, uuid.MustParse(id))
	integration := newKey(t, domain.RoleIntegration, uuid.Nil)
	cases := []struct {
		who, key, method, path string
	}{
		{"partner", partnerKey, "POST", "/v1/partners/" + id + "/approve"},
		{"partner", partnerKey, "GET", "/v1/applications"},
		{"partner", partnerKey, "POST", "/v1/programs"},
		{"partner", partnerKey, "POST", "/v1/keys"},
		{"finance", f.finance, "POST", "/v1/partners/" + id + "/approve"},
		{"finance", f.finance, "POST", "/v1/partners/" + id + "/certifications"},
		{"admin", f.admin, "POST", "/v1/partners/" + id + "/reject"},
		{"manager", f.manager, "POST", "/v1/programs"},
		{"manager", f.manager, "POST", "/v1/keys"},
		{"manager", f.manager, "GET", "/v1/me"},
		{"manager", f.manager, "POST", "/v1/me/agreement"},
		{"integration", integration, "GET", "/v1/partners"},
	}
	for _, c := range cases {
		r := do(t, call{method: c.method, path: c.path, key: c.key, body: map[string]any{"reason": "x"}})
		if code, _ := r.errCode(); r.status != http.StatusForbidden || code != "forbidden" {
			t.Errorf("%s %s %s: %d %s", c.who, c.method, c.path, r.status, r.raw)
		}
	}
	// Nothing moved: the application still waits for review.
	if r := do(t, call{method: "GET", path: "/v1/partners/" + id, key: f.manager}); r.str("status") != "pending_review" {
		t.Fatalf("after forbidden calls: %s", r.raw)
	}
}

// A partner sees only its own record: another partner's is a 404, not a 403.
func TestPartnersSeeOnlyThemselves(t *testing.T) {
	f := newProgram(t)
	mine, theirs := apply(t, f, "affiliate"), apply(t, f, "affiliate")
	key := newKey(t, domain.RolePartner, uuid.MustParse(mine))
	expect(t, do(t, call{method: "GET", path: "/v1/partners/" + mine, key: key}), http.StatusOK)
	for _, path := range []string{"/v1/partners/" + theirs, "/v1/partners/" + uuid.NewString(), "/v1/partners/not-a-uuid"} {
		r := do(t, call{method: "GET", path: path, key: key})
		if code, _ := r.errCode(); r.status != http.StatusNotFound || code != "not_found" {
			t.Errorf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/me", key: key}), http.StatusOK); r.str("id") != mine {
		t.Fatalf("me: %s", r.raw)
	}
}

// Every invalid field is a 4xx JSON error naming the field, and nothing is written:
// no partner row, no idempotency key, no workflow.
func TestBadApplicationsWriteNothing(t *testing.T) {
	f := newProgram(t)
	valid := application(f, "reseller")
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range valid {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"missing name", with("name", nil), 422, "name"},
		{"blank name", with("name", "   "), 422, "name"},
		{"name too long", with("name", strings.Repeat("x", 201)), 422, "name"},
		{"missing email", with("email", nil), 422, "email"},
		{"bad email", with("email", "ana-at-example"), 422, "email"},
		{"display-name email", with("email", "Ana <ana@example.com>"), 422, "email"},
		{"missing company", with("company", nil), 422, "company"},
		{"bad domain", with("website_domain", "not a domain"), 422, "website_domain"},
		{"localhost domain", with("website_domain", "localhost"), 422, "website_domain"},
		{"bad partner type", with("partner_type", "wholesaler"), 422, "partner_type"},
		{"missing program", with("program_id", nil), 422, "program_id"},
		{"malformed program", with("program_id", "abc"), 422, "program_id"},
		{"unknown program", with("program_id", uuid.NewString()), 422, "program_id"},
		{"number for a string", with("name", 42), 422, "name"},
		{"unknown field (mass assignment)", with("status", "active"), 422, "status"},
		{"not JSON", "{name: ana", 400, ""},
		{"empty body", "", 400, ""},
		{"two objects", `{"name":"a"} {"name":"b"}`, 400, ""},
		{"an array", `[]`, 422, ""},
		{"too large", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
	}
	partners, keys := countRows(t, "partners"), countRows(t, "idempotency_keys")
	for _, c := range cases {
		r := do(t, call{method: "POST", path: "/v1/applications", body: c.body, headers: map[string]string{"Idempotency-Key": uuid.NewString()}})
		code, field := r.errCode()
		if r.status != c.status || code == "" || field != c.field {
			t.Errorf("%s: %d code=%q field=%q, want %d field %q: %.200s", c.name, r.status, code, field, c.status, c.field, r.raw)
		}
	}
	if countRows(t, "partners") != partners || countRows(t, "idempotency_keys") != keys {
		t.Fatal("a rejected application wrote something")
	}
}

func TestBadProgramsAndListsAreRefused(t *testing.T) {
	f := newProgram(t)
	programs := countRows(t, "programs")
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad kind", map[string]any{"name": "x", "kind": "mlm", "currency": "EUR"}, "kind"},
		{"lower-case currency", map[string]any{"name": "x", "kind": "channel", "currency": "eur"}, "currency"},
		{"negative allocation", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "tiers": []map[string]any{{"name": "A", "rank": 0, "mdf_quarterly_allocation": "-5"}}}, "mdf_quarterly_allocation"},
		{"margin above 1", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "tiers": []map[string]any{{"name": "A", "rank": 0, "default_margin": "1.5"}}}, "default_margin"},
		{"tier without rank", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "tiers": []map[string]any{{"name": "A"}}}, "tiers[0].rank"},
		{"duplicate ranks", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "tiers": []map[string]any{{"name": "A", "rank": 0}, {"name": "B", "rank": 0}}}, "tiers"},
		{"unknown partner type", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "certifications": map[string]any{"wholesaler": []string{"a"}}}, "certifications"},
		{"review SLA zero", map[string]any{"name": "x", "kind": "channel", "currency": "EUR", "review_sla_hours": 0}, "review_sla_hours"},
	}
	for _, c := range cases {
		r := do(t, call{method: "POST", path: "/v1/programs", key: f.admin, body: c.body})
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code == "" || field != c.field {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if countRows(t, "programs") != programs {
		t.Fatal("a rejected program was stored")
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=!!!", "cursor=AAAA", "program_id=nope"} {
		r := do(t, call{method: "GET", path: "/v1/partners?" + q, key: f.manager})
		if r.status != http.StatusBadRequest {
			t.Errorf("?%s: %d %s", q, r.status, r.raw)
		}
	}
	certs := countRows(t, "certifications")
	for _, body := range []map[string]any{
		{"name": "Bad Name!", "passed_at": "2026-01-01", "expires_at": "2027-01-01"},
		{"name": "ok", "passed_at": "01/01/2026", "expires_at": "2027-01-01"},
		{"name": "ok", "passed_at": "2026-01-01"},
	} {
		id := apply(t, f, "reseller")
		if r := do(t, call{method: "POST", path: "/v1/partners/" + id + "/certifications", key: f.manager, body: body}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("certification %v: %d %s", body, r.status, r.raw)
		}
		// Before approval a certification is out of order: 409, nothing recorded.
		if r := do(t, call{method: "POST", path: "/v1/partners/" + id + "/certifications", key: f.manager,
			body: map[string]any{"name": "ok", "passed_at": "2026-01-01", "expires_at": "2099-01-01"}}); r.status != http.StatusConflict {
			t.Errorf("certification before approval: %d %s", r.status, r.raw)
		}
	}
	if countRows(t, "certifications") != certs {
		t.Fatal("a refused certification was stored")
	}
}

func TestPagination(t *testing.T) {
	f := newProgram(t)
	want := map[string]bool{}
	for range 5 {
		want[apply(t, f, "affiliate")] = true
	}
	seen := map[string]bool{}
	path := "/v1/partners?limit=2&program_id=" + f.programID
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := expect(t, do(t, call{method: "GET", path: path, key: f.manager}), http.StatusOK)
		for _, p := range r.body["data"].([]any) {
			id := p.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
		next := r.str("next_cursor")
		if next == "" {
			break
		}
		path = "/v1/partners?limit=2&program_id=" + f.programID + "&cursor=" + next
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d partners, want %d", len(seen), len(want))
	}
}

func TestIdempotencyKeys(t *testing.T) {
	f := newProgram(t)
	body := application(f, "affiliate")
	key := map[string]string{"Idempotency-Key": uuid.NewString()}
	first := expect(t, do(t, call{method: "POST", path: "/v1/applications", body: body, headers: key}), http.StatusCreated)
	again := expect(t, do(t, call{method: "POST", path: "/v1/applications", body: body, headers: key}), http.StatusCreated)
	if string(first.raw) != string(again.raw) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", first.raw, again.raw)
	}
	other := application(f, "affiliate")
	r := do(t, call{method: "POST", path: "/v1/applications", body: other, headers: key})
	if code, _ := r.errCode(); r.status != http.StatusUnprocessableEntity || code != "idempotency_key_reused" {
		t.Fatalf("same key, other body: %d %s", r.status, r.raw)
	}

	// Ten concurrent requests with one key: one application, ten equal answers.
	body = application(f, "affiliate")
	key = map[string]string{"Idempotency-Key": uuid.NewString()}
	var wg sync.WaitGroup
	answers := make([]response, 10)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = do(t, call{method: "POST", path: "/v1/applications", body: body, headers: key})
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != http.StatusCreated || a.str("id") != answers[0].str("id") {
			t.Fatalf("concurrent answer %d %s vs %s", a.status, a.raw, answers[0].raw)
		}
	}
	var n int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM partners WHERE email = $1", body["email"]).Scan(&n)
	if n != 1 {
		t.Fatalf("%d applications stored", n)
	}

	// A retried approval replays the answer with the same key (the first answer may
	// have been lost), and the key works; there is one key, not two.
	id := apply(t, f, "affiliate")
	key = map[string]string{"Idempotency-Key": "approve-" + id}
	a1 := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key}), http.StatusOK)
	a2 := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key}), http.StatusOK)
	if a1.str("api_key") == "" || a2.str("api_key") != a1.str("api_key") || a2.str("status") != "awaiting_agreement" {
		t.Fatalf("approval replay:\n%s\n%s", a1.raw, a2.raw)
	}
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: a1.str("api_key")}), http.StatusOK)
	if me.str("id") != id {
		t.Fatalf("the approved partner's key reads %s", me.raw)
	}
	var keys int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE partner_id = $1", id).Scan(&keys)
	if keys != 1 {
		t.Fatalf("%d partner keys after a replayed approval", keys)
	}
}

// A refused decision keeps nothing: the key made for the approval is rolled back.
func TestRefusedApprovalIssuesNoKey(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "no"}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusConflict)
	var keys int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE partner_id = $1", id).Scan(&keys)
	if keys != 0 {
		t.Fatalf("%d keys for a rejected applicant", keys)
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	cfg := testAPIConfig()
	cfg.RateLimit, cfg.RateBurst = 1, 3
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer s.Close()
	defer srv.Close()
	key := newKey(t, domain.RoleManager, uuid.Nil)
	statuses := map[int]int{}
	for range 6 {
		statuses[doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: key}).status]++
	}
	if statuses[http.StatusOK] != 3 || statuses[http.StatusTooManyRequests] != 3 {
		t.Fatalf("statuses %v", statuses)
	}
}

func TestHealthAndDocs(t *testing.T) {
	expect(t, do(t, call{method: "GET", path: "/healthz"}), http.StatusOK)
	if r := expect(t, do(t, call{method: "GET", path: "/readyz"}), http.StatusOK); r.str("checks", "postgres") != "ok" || r.str("checks", "temporal") != "ok" {
		t.Fatalf("readyz: %s", r.raw)
	}
	if r := expect(t, do(t, call{method: "GET", path: "/openapi.json"}), http.StatusOK); r.str("openapi") != "3.1.0" {
		t.Fatalf("openapi.json: %.100s", r.raw)
	}
}

// Migrations are re-runnable: dev and migrate apply them at every start.
func TestMigrationsAreIdempotent(t *testing.T) {
	if err := migrateAgain(); err != nil {
		t.Fatal(err)
	}
}

func migrateAgain() error { return db.Migrate(context.Background(), sys.store.Pool) }
