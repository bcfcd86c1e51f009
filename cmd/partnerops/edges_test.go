//go:build e2e

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
)

// Failed authentications are throttled, valid keys never: unknown keys per client
// address, wrong secrets per key id. A good key from the failing address is
// served; every answer says what is left of its quota.
func TestFailedAuthenticationIsThrottled(t *testing.T) {
	cfg := testAPIConfig()
	cfg.Click.TokenKey = nil
	cfg.AuthFailuresPerMinute, cfg.RateLimit, cfg.RateBurst = 5, 50, 100
	cfg.TrustedProxies = []string{"127.0.0.1"} // X-Forwarded-For names the client
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	f := newProgram(t)
	attacker := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	for i := range 5 {
		r := doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: "po_manager_guessing_" + strconv.Itoa(i) + "aaaaaaaaaaaaaaaaaaaaaaaaa", headers: attacker})
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Bearer realm="partnerops"` {
			t.Fatalf("bad key %d: %d %v %s", i, r.status, r.header, r.raw)
		}
	}
	blocked := doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: "po_manager_guessing_5aaaaaaaaaaaaaaaaaaaaaaaaa", headers: attacker})
	wait, _ := strconv.Atoi(blocked.header.Get("Retry-After"))
	if blocked.status != http.StatusTooManyRequests || blocked.str("error", "code") != "too_many_failed_authentications" || wait < 1 || wait > 12 {
		t.Fatalf("sixth bad key: %d Retry-After %q %s", blocked.status, blocked.header.Get("Retry-After"), blocked.raw)
	}
	// 30 bad keys in all, then a valid key from the same address: served.
	for i := 6; i < 30; i++ {
		expect(t, doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: "po_manager_guessing_" + strconv.Itoa(i) + "aaaaaaaaaaaaaaaaaaaaaaaaa", headers: attacker}), http.StatusTooManyRequests)
	}
	ok := expect(t, doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: f.manager, headers: attacker}), http.StatusOK)
	if ok.header.Get("RateLimit-Limit") != "100" || ok.header.Get("RateLimit-Remaining") != "99" || ok.header.Get("RateLimit-Reset") == "" {
		t.Fatalf("quota headers: %v", ok.header)
	}
	// Another address sending an unknown key is not slowed by the first one's failures.
	expect(t, doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: "po_manager_guessing_xaaaaaaaaaaaaaaaaaaaaaaaaa", headers: map[string]string{"X-Forwarded-For": "198.51.100.9"}}), http.StatusUnauthorized)

	// Wrong secrets for a real key id are counted against that key id, from any
	// address; the key's owner, with the right secret, is still served.
	prefix := f.finance[:strings.LastIndex(f.finance, "_")+1]
	wrong := prefix + strings.Repeat("x", len(f.finance)-len(prefix))
	for i := range 8 {
		r := doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: wrong, headers: map[string]string{"X-Forwarded-For": "192.0.2." + strconv.Itoa(10+i)}})
		if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusTooManyRequests}[i < 5]; r.status != want {
			t.Fatalf("wrong secret %d: %d %s", i, r.status, r.raw)
		}
	}
	expect(t, doAt(t, srv.URL, call{method: "GET", path: "/v1/partners", key: f.finance, headers: map[string]string{"X-Forwarded-For": "192.0.2.10"}}), http.StatusOK)
	// A missing key is a 401 that says how to authenticate.
	if r := doAt(t, srv.URL, call{method: "GET", path: "/v1/deals"}); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d %v", r.status, r.header)
	}
	// Public writes carry the quota too.
	if r := doAt(t, srv.URL, call{method: "POST", path: "/v1/applications", body: application(f, "affiliate")}); r.status != http.StatusCreated || r.header.Get("RateLimit-Remaining") == "" {
		t.Fatalf("application: %d %v", r.status, r.header)
	}
}

// Lists say whether another page follows.
func TestListsSayWhetherMoreFollows(t *testing.T) {
	f := newProgram(t)
	for range 3 {
		apply(t, f, "affiliate")
	}
	p1 := expect(t, do(t, call{method: "GET", path: "/v1/partners?limit=2&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	if len(p1.body["data"].([]any)) != 2 || p1.body["has_more"] != true || p1.str("next_cursor") == "" {
		t.Fatalf("first page: %s", p1.raw)
	}
	p2 := expect(t, do(t, call{method: "GET", path: "/v1/partners?limit=2&program_id=" + f.programID + "&cursor=" + p1.str("next_cursor"), key: f.manager}), http.StatusOK)
	if len(p2.body["data"].([]any)) != 1 || p2.body["has_more"] != false || p2.str("next_cursor") != "" {
		t.Fatalf("last page: %s", p2.raw)
	}
	// Exactly a page left: no empty page after it.
	p := expect(t, do(t, call{method: "GET", path: "/v1/partners?limit=3&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	if len(p.body["data"].([]any)) != 3 || p.body["has_more"] != false {
		t.Fatalf("a full last page: %s", p.raw)
	}
}

// An Idempotency-Key lives 24 hours: after that the same key is a new request,
// and the hourly sweep deletes it.
func TestIdempotencyKeysExpire(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	key := map[string]string{"Idempotency-Key": "alloc-" + id}
	first := expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/tiers", key: f.admin, headers: key,
		body: map[string]any{"name": "Silver", "rank": 1}}), http.StatusCreated)
	// Another body with the same key inside the 24 hours: refused.
	expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/tiers", key: f.admin, headers: key,
		body: map[string]any{"name": "Platinum", "rank": 3}}), http.StatusUnprocessableEntity)
	// 25 hours later (time moved in the database): the key is free again.
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", "alloc-"+id); err != nil {
		t.Fatal(err)
	}
	second := expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/tiers", key: f.admin, headers: key,
		body: map[string]any{"name": "Platinum", "rank": 3}}), http.StatusCreated)
	if second.str("id") == first.str("id") || second.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("an expired key replayed: %s", second.raw)
	}
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE idempotency_keys SET created_at = $1 WHERE key = $2", time.Now().Add(-30*time.Hour), "alloc-"+id); err != nil {
		t.Fatal(err)
	}
	n, err := (&activities.Activities{Store: sys.store}).SweepIdempotencyKeys(context.Background())
	if err != nil || n < 1 {
		t.Fatalf("swept %d: %v", n, err)
	}
	if left := countWhere(t, "idempotency_keys", "key = 'alloc-"+id+"'"); left != 0 {
		t.Fatalf("%d expired keys left", left)
	}
}

// Pending lists are scoped by program: a manager of many programs reads one.
func TestPendingListsByProgram(t *testing.T) {
	f, g := newProgram(t), newProgram(t)
	_, kf := activePartner(t, f, "reseller")
	_, kg := activePartner(t, g, "reseller")
	for _, k := range []string{kf, kg} {
		company, dom := uniqueCompany()
		expect(t, do(t, call{method: "POST", path: "/v1/deals", key: k, body: dealBody(company, dom)}), http.StatusCreated)
	}
	r := expect(t, do(t, call{method: "GET", path: "/v1/deals?status=pending_approval&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	for _, d := range r.body["data"].([]any) {
		if d.(map[string]any)["program_id"] != f.programID {
			t.Fatalf("another program's deal: %s", r.raw)
		}
	}
	if len(r.body["data"].([]any)) != 1 {
		t.Fatalf("deals of the program: %s", r.raw)
	}
	apps := expect(t, do(t, call{method: "GET", path: "/v1/applications?program_id=" + g.programID, key: f.manager}), http.StatusOK)
	for _, a := range apps.body["data"].([]any) {
		if a.(map[string]any)["program_id"] != g.programID {
			t.Fatalf("another program's application: %s", apps.raw)
		}
	}
	expect(t, do(t, call{method: "GET", path: "/v1/mdf/requests?program_id=" + f.programID, key: f.manager}), http.StatusOK)
	expect(t, do(t, call{method: "GET", path: "/v1/deals?program_id=nope", key: f.manager}), http.StatusBadRequest)
}

// A lost or refused database connection is transient: 503 with Retry-After (never
// a 500), nothing written, and the client's retry with the same Idempotency-Key
// succeeds once the database answers again.
func TestLostDatabaseConnectionAnswers503(t *testing.T) {
	f := newMoneyFixture(t, "A")
	ctx := context.Background()
	// The partner's row is locked by another transaction; the API's connection,
	// waiting for it, is terminated by the server.
	tx, err := sys.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM partners WHERE id = $1 FOR UPDATE", f.ids["A"]); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"method": "provider", "account_id": "acct_lost000001"}
	key := map[string]string{"Idempotency-Key": "lost-" + f.ids["A"]}
	answer := make(chan response, 1)
	go func() {
		answer <- do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"], body: body, headers: key})
	}()
	eventually(t, "the request to wait for the row lock", func() bool {
		var n int
		// Outside the locking transaction: statistics views are a snapshot per transaction.
		_ = sys.store.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%LockPartnerForPayoutDetails%' AND pid <> pg_backend_pid() AND datname = current_database()`).Scan(&n)
		return n > 0
	})
	r := <-answer
	if r.status != http.StatusServiceUnavailable || r.str("error", "code") != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("terminated connection: %d %v %s", r.status, r.header, r.raw)
	}
	_ = tx.Rollback(ctx)
	var versions int
	_ = sys.store.Pool.QueryRow(ctx, "SELECT count(*) FROM payout_details WHERE partner_id = $1", f.ids["A"]).Scan(&versions)
	if versions != 0 {
		t.Fatalf("%d versions written by the failed request", versions)
	}
	retried := expect(t, do(t, call{method: "PUT", path: "/v1/me/payout-details", key: f.keys["A"], body: body, headers: key}), http.StatusOK)
	if retried.body["version"] != float64(1) {
		t.Fatalf("the retry: %s", retried.raw)
	}

	// A database that refuses connections: 503 too.
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/partnerops?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cfg := testAPIConfig()
	cfg.Click.TokenKey = nil
	s, err := api.New(cfg, db.NewStore(pool), sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	r = doAt(t, srv.URL, call{method: "POST", path: "/v1/applications", body: application(f.fixture, "affiliate")})
	if r.status != http.StatusServiceUnavailable || r.str("error", "code") != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("refused connection: %d %v %s", r.status, r.header, r.raw)
	}
}
