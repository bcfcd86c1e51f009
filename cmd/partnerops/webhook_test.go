//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// receiver is a webhook endpoint in the test: it keeps what it is sent and
// answers with status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		st := r.status
		r.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// A partner's endpoint hears of its deal's approval: signed with the secret it
// was shown once, with an event id that stays the same on replay; every
// attempt is listed; other partners see none of it.
func TestWebhookDeliveries(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	_, otherKey := activePartner(t, f, "reseller")
	hook := newReceiver(t, http.StatusOK)
	ep := expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey,
		body: map[string]any{"url": hook.URL + "/partnerops", "event_types": []string{"deal.rejected", "deal.approved"}, "description": "CRM"}}), http.StatusCreated)
	secret := ep.str("secret")
	if len(secret) < 30 || ep.str("partner_id") != partnerID || ep.body["secrets"] != nil {
		t.Fatalf("endpoint: %s", ep.raw)
	}
	if l := expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints", key: partnerKey}), http.StatusOK); bytesContain(l.raw, secret) || len(l.body["data"].([]any)) != 1 {
		t.Fatalf("the list shows the secret or not the endpoint: %s", l.raw)
	}
	// The program's own endpoint (an admin's) hears every event of the program.
	all := newReceiver(t, http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: f.admin, body: map[string]any{"url": all.URL, "program_id": f.programID}}), http.StatusCreated)

	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{"margin": "0.12"}}), http.StatusOK)
	eventually(t, "the signed delivery", func() bool { return len(hook.all()) == 1 })
	got := hook.all()[0]
	var ev struct {
		ID        string         `json:"id"`
		Type      string         `json:"type"`
		PartnerID string         `json:"partner_id"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got.body, &ev); err != nil || ev.Type != "deal.approved" || ev.Data["id"] != deal || ev.Data["margin"] != "0.1200" || ev.PartnerID != partnerID {
		t.Fatalf("event %s (%v)", got.body, err)
	}
	if got.header.Get("X-Partnerops-Event") != "deal.approved" || got.header.Get("X-Partnerops-Event-Id") != ev.ID || got.header.Get("X-Partnerops-Attempt") != "1" {
		t.Fatalf("headers %v", got.header)
	}
	if err := domain.VerifySignature(got.header.Get("X-Partnerops-Signature"), got.body, [][]byte{[]byte(secret)}, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	eventually(t, "the program's endpoint too", func() bool {
		for _, r := range all.all() {
			if r.header.Get("X-Partnerops-Event-Id") == ev.ID {
				return true
			}
		}
		return false
	})

	// The delivery and its attempt are listed; a replay sends the same event again.
	var dl response
	eventually(t, "the delivery listed as delivered", func() bool {
		dl = expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints/" + ep.str("id") + "/deliveries", key: partnerKey}), http.StatusOK)
		d := dl.body["data"].([]any)
		return len(d) == 1 && d[0].(map[string]any)["status"] == "delivered"
	})
	d := dl.body["data"].([]any)[0].(map[string]any)
	log := d["attempt_log"].([]any)
	if d["event_id"] != ev.ID || len(log) != 1 || log[0].(map[string]any)["status_code"].(float64) != 200 {
		t.Fatalf("delivery: %s", dl.raw)
	}
	replay := expect(t, do(t, call{method: "POST", path: "/v1/webhook-deliveries/" + d["id"].(string) + "/replay", key: partnerKey}), http.StatusAccepted)
	eventually(t, "the replay", func() bool { return len(hook.all()) == 2 })
	if again := hook.all()[1]; again.header.Get("X-Partnerops-Event-Id") != ev.ID || string(again.body) != string(got.body) || replay.body["run"].(float64) != 2 {
		t.Fatalf("replay: %v %s", again.header, replay.raw)
	}

	// Rotation: a new secret, shown once; deliveries are signed with it and the previous one.
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints/" + ep.str("id") + "/secrets", key: otherKey}), http.StatusNotFound)
	rotated := expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints/" + ep.str("id") + "/secrets", key: partnerKey}), http.StatusCreated).str("secret")
	if rotated == "" || rotated == secret {
		t.Fatalf("rotated secret %q", rotated)
	}
	company, dom = uniqueCompany()
	deal3 := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal3 + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	eventually(t, "the delivery after rotation", func() bool { return len(hook.all()) == 3 })
	third := hook.all()[2]
	for _, sec := range []string{secret, rotated} {
		if err := domain.VerifySignature(third.header.Get("X-Partnerops-Signature"), third.body, [][]byte{[]byte(sec)}, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("after rotation, with %s: %v (%s)", sec[:10], err, third.header.Get("X-Partnerops-Signature"))
		}
	}

	// Another partner sees none of it; a manager is not a webhook owner.
	if l := expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints", key: otherKey}), http.StatusOK); len(l.body["data"].([]any)) != 0 {
		t.Fatalf("another partner lists: %s", l.raw)
	}
	expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints/" + ep.str("id") + "/deliveries", key: otherKey}), http.StatusNotFound)
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-deliveries/" + d["id"].(string) + "/replay", key: otherKey}), http.StatusNotFound)
	expect(t, do(t, call{method: "DELETE", path: "/v1/webhook-endpoints/" + ep.str("id"), key: otherKey}), http.StatusNotFound)
	expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints", key: f.manager}), http.StatusForbidden)

	// A failing endpoint: the attempt and its answer are kept, the workflow retries.
	failing := newReceiver(t, http.StatusServiceUnavailable)
	bad := expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: map[string]any{"url": failing.URL}}), http.StatusCreated)
	company, dom = uniqueCompany()
	deal2 := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal2 + "/reject", key: f.manager, body: map[string]any{"reason": "duplicate"}}), http.StatusOK)
	eventually(t, "the failed attempt recorded", func() bool {
		r := expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints/" + bad.str("id") + "/deliveries", key: partnerKey}), http.StatusOK)
		d := r.body["data"].([]any)
		return len(d) == 1 && d[0].(map[string]any)["status"] == "pending" && d[0].(map[string]any)["last_status"] == float64(503) &&
			len(d[0].(map[string]any)["attempt_log"].([]any)) == 1
	})
	// Deleted: nothing more goes there.
	expect(t, do(t, call{method: "DELETE", path: "/v1/webhook-endpoints/" + ep.str("id"), key: partnerKey}), http.StatusNoContent)
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-deliveries/" + d["id"].(string) + "/replay", key: partnerKey}), http.StatusConflict)
}

// An endpoint failing for three days is disabled when a run gives up, and its
// owner told; one that succeeded lately is not.
func TestFailingWebhookEndpointIsDisabled(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	failing := newReceiver(t, http.StatusInternalServerError)
	ep := expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: map[string]any{"url": failing.URL}}), http.StatusCreated).str("id")
	ctx := context.Background()
	// An event for it, enqueued as the activities do (twice: the same event id is one delivery).
	eventID := uuid.New()
	var deliveries []uuid.UUID
	for range 2 {
		got, err := sys.store.EnqueueWebhookDeliveries(ctx, db.EnqueueWebhookDeliveriesParams{EventID: eventID, EventType: "webhook.test", Payload: []byte(`{"type":"webhook.test"}`),
			ProgramID: uuid.MustParse(f.programID), PartnerID: uuid.NullUUID{UUID: uuid.MustParse(partnerID), Valid: true}})
		if err != nil {
			t.Fatal(err)
		}
		deliveries = append(deliveries, got...)
	}
	if len(deliveries) != 1 {
		t.Fatalf("the same event enqueued twice made %d deliveries", len(deliveries))
	}
	a := &activities.Activities{Store: sys.store}
	run := activities.WebhookRun{DeliveryID: deliveries[0], Run: 1}
	if err := a.WebhookGaveUp(ctx, run); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints", key: partnerKey}), http.StatusOK).body["data"].([]any)[0].(map[string]any); e["disabled_at"] != nil {
		t.Fatalf("a new endpoint was disabled: %v", e)
	}
	if _, err := sys.store.Pool.Exec(ctx, "UPDATE webhook_endpoints SET created_at = now() - interval '4 days' WHERE id = $1", ep); err != nil {
		t.Fatal(err)
	}
	if err := a.WebhookGaveUp(ctx, run); err != nil {
		t.Fatal(err)
	}
	e := expect(t, do(t, call{method: "GET", path: "/v1/webhook-endpoints", key: partnerKey}), http.StatusOK).body["data"].([]any)[0].(map[string]any)
	if e["disabled_at"] == nil || e["disabled_reason"] != "failing for 3 days" {
		t.Fatalf("not disabled: %v", e)
	}
	n := expect(t, do(t, call{method: "GET", path: "/v1/me/notifications", key: partnerKey}), http.StatusOK).body["data"].([]any)
	if len(n) == 0 || n[0].(map[string]any)["kind"] != "webhook_endpoint_disabled" {
		t.Fatalf("the owner was not told: %v", n)
	}
	if err := a.DeliverWebhook(ctx, run); err == nil {
		t.Fatal("delivered to a disabled endpoint")
	}
}

// Webhook targets are public https endpoints unless demo mode allows otherwise
// (SSRF): refused ones write nothing.
func TestWebhookEndpointsRefusePrivateTargets(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	cfg := testAPIConfig()
	cfg.WebhookAllowPrivate = false
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer func() { srv.Close(); s.Close() }()
	before := countRows(t, "webhook_endpoints")
	for url, code := range map[string]string{
		"http://hooks.acme.example/x":          "insecure",
		"https://127.0.0.1/x":                  "private_address",
		"https://169.254.169.254/latest/meta":  "private_address",
		"https://10.0.0.8/x":                   "private_address",
		"https://localhost:8443/x":             "private_address",
		"https://user:pw@hooks.acme.example/x": "invalid",
		"javascript:alert(1)":                  "invalid",
	} {
		r := doAt(t, srv.URL, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: map[string]any{"url": url}})
		if got, field := r.errCode(); r.status != http.StatusUnprocessableEntity || got != code || field != "url" {
			t.Errorf("%s: %d %s %s", url, r.status, got, field)
		}
	}
	for _, body := range []map[string]any{
		{"url": "https://hooks.acme.example/x", "event_types": []string{"deal.approve"}},
		{"url": "https://hooks.acme.example/x", "program_id": uuid.NewString()},
	} {
		if r := doAt(t, srv.URL, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: body}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s", body, r.status, r.raw)
		}
	}
	if r := doAt(t, srv.URL, call{method: "POST", path: "/v1/webhook-endpoints", key: f.admin, body: map[string]any{"url": "https://hooks.acme.example/x"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an admin's endpoint without program_id: %d", r.status)
	}
	if after := countRows(t, "webhook_endpoints"); after != before {
		t.Fatalf("refused endpoints wrote %d rows", after-before)
	}
	ok := doAt(t, srv.URL, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: map[string]any{"url": "https://hooks.acme.example/partnerops"}})
	expect(t, ok, http.StatusCreated)
}

// Outside demo mode the delivery's dialer refuses a private address whatever
// the endpoint's URL says (a name that resolves to one, or an endpoint stored
// while private targets were allowed): the attempt is recorded and nothing is sent.
func TestWebhookDeliveryRefusesPrivateAddresses(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	hook := newReceiver(t, http.StatusOK)
	port := hook.URL[strings.LastIndex(hook.URL, ":"):]
	// localhost resolves to 127.0.0.1: a name is no way around the check.
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: partnerKey, body: map[string]any{"url": "http://localhost" + port + "/x"}}), http.StatusCreated)
	ctx := context.Background()
	got, err := sys.store.EnqueueWebhookDeliveries(ctx, db.EnqueueWebhookDeliveriesParams{EventID: uuid.New(), EventType: "webhook.test", Payload: []byte(`{"type":"webhook.test"}`),
		ProgramID: uuid.MustParse(f.programID), PartnerID: uuid.NullUUID{UUID: uuid.MustParse(partnerID), Valid: true}})
	if err != nil || len(got) != 1 {
		t.Fatalf("enqueue: %v %v", got, err)
	}
	strict := &activities.Activities{Store: sys.store} // WebhookAllowPrivate false: production
	if _, err := sys.store.StartWebhookRun(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	env := testsuiteActivityEnv(t, strict)
	_, err = env.ExecuteActivity(strict.DeliverWebhook, activities.WebhookRun{DeliveryID: got[0], Run: 1})
	if err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("delivered to a private address: %v", err)
	}
	if len(hook.all()) != 0 {
		t.Fatal("the private endpoint received the event")
	}
	var attempts int
	var lastErr string
	_ = sys.store.Pool.QueryRow(ctx, "SELECT attempts, coalesce(last_error, '') FROM webhook_deliveries WHERE id = $1", got[0]).Scan(&attempts, &lastErr)
	if attempts != 1 || !strings.Contains(lastErr, "not a public address") {
		t.Fatalf("attempt recorded: %d %q", attempts, lastErr)
	}
}

// testsuiteActivityEnv runs an activity as Temporal would (its info, attempt
// number) without a worker.
func testsuiteActivityEnv(t *testing.T, a *activities.Activities) *testsuite.TestActivityEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}
