//go:build e2e

package main

// Decisions under concurrency, against the real services with the API and the
// worker in one process, each on a pool of 4 connections (as `make run` runs
// them): identical and contradicting decisions sent at once are carried out
// exactly once, the rest answered 409 at once, nobody waits on anybody else.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/api"
)

// answered is one request of a burst: its answer and how long it took.
type answered struct {
	response
	took time.Duration
	err  error
}

// send is do without t: safe from any goroutine.
func send(c call) answered {
	var rd io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewBuffer(js)
	}
	req, _ := http.NewRequest(c.method, sys.api.URL+c.path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answered{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answered{response: response{status: resp.StatusCode, header: resp.Header, raw: raw}, took: time.Since(start)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// burst sends every call at once and waits for all the answers.
func burst(calls []call) []answered {
	out := make([]answered, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = send(c)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// decisionBudget is how long any answer of a burst may take: the failure this
// guards against (handlers holding pool connections while waiting on workflows)
// showed as 15 s timeouts.
const decisionBudget = 2 * time.Second

// exactlyOne checks a burst of decisions on one record: one applied (ok), the
// others refused with 409, no 5xx, every answer within the budget. It returns
// the applied answer.
func exactlyOne(t *testing.T, what string, rs []answered, ok int) answered {
	t.Helper()
	var applied []answered
	for i, r := range rs {
		switch {
		case r.err != nil:
			t.Fatalf("%s: request %d: %v", what, i, r.err)
		case r.took > decisionBudget:
			t.Errorf("%s: request %d answered %d after %s", what, i, r.status, r.took)
		case r.status == ok:
			applied = append(applied, r)
		case r.status != http.StatusConflict:
			t.Errorf("%s: request %d answered %d: %s", what, i, r.status, r.raw)
		}
	}
	if len(applied) != 1 {
		t.Fatalf("%s: %d decisions applied, want exactly 1", what, len(applied))
	}
	return applied[0]
}

func repeat(n int, c call) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// alternate interleaves n copies of each call: contradicting decisions.
func alternate(n int, cs ...call) []call {
	var out []call
	for i := 0; i < n; i++ {
		out = append(out, cs...)
	}
	return out
}

func TestConcurrentPartnerDecisions(t *testing.T) {
	f := newProgram(t)
	// 25 identical approvals.
	id := apply(t, f, "affiliate")
	a := exactlyOne(t, "identical approvals", burst(repeat(25, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}})), http.StatusOK)
	key := a.str("api_key")
	if me := do(t, call{method: "GET", path: "/v1/me", key: key}); me.status != http.StatusOK || me.str("id") != id {
		t.Fatalf("the applied approval's key does not work: %s", me.raw)
	}
	var active, all int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE activated_at IS NOT NULL), count(*) FROM api_keys WHERE partner_id = $1", id).Scan(&active, &all)
	if active != 1 || all != 1 {
		t.Fatalf("%d active of %d keys for the approved partner, want 1 of 1", active, all)
	}
	// 25 approvals against 25 rejections.
	id = apply(t, f, "affiliate")
	r := exactlyOne(t, "approve vs reject", burst(alternate(25,
		call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}},
		call{method: "POST", path: "/v1/partners/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "not a fit"}})), http.StatusOK)
	stored := do(t, call{method: "GET", path: "/v1/partners/" + id, key: f.manager})
	if stored.str("status") != r.str("status") {
		t.Fatalf("answered %s, stored %s", r.str("status"), stored.str("status"))
	}
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE activated_at IS NOT NULL), count(*) FROM api_keys WHERE partner_id = $1", id).Scan(&active, &all)
	if approved := r.str("status") == "awaiting_agreement"; (approved && (active != 1 || all != 1)) || (!approved && all != 0) {
		t.Fatalf("%s partner has %d keys (%d active)", r.str("status"), all, active)
	}
}

func TestConcurrentDealDecisions(t *testing.T) {
	f := newProgram(t)
	other := newKey(t, "manager", uuid.Nil)
	_, partnerKey := activePartner(t, f, "reseller")
	register := func() string {
		company, dom := uniqueCompany()
		return expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	}
	// Two managers approving with different margins, 25 each.
	id := register()
	a := exactlyOne(t, "two managers approve", burst(alternate(25,
		call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{"margin": "0.10"}},
		call{method: "POST", path: "/v1/deals/" + id + "/approve", key: other, body: map[string]any{"margin": "0.20"}})), http.StatusOK)
	stored := do(t, call{method: "GET", path: "/v1/deals/" + id, key: f.manager})
	if stored.str("margin") != a.str("margin") || stored.str("status") != "approved" {
		t.Fatalf("answered margin %s, stored %s (%s)", a.str("margin"), stored.str("margin"), stored.raw)
	}
	var approvals int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM deal_events WHERE deal_id = $1 AND kind = 'approved'", id).Scan(&approvals)
	if approvals != 1 {
		t.Fatalf("%d approved events", approvals)
	}
	// Approve against reject.
	id = register()
	a = exactlyOne(t, "approve vs reject", burst(alternate(25,
		call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{}},
		call{method: "POST", path: "/v1/deals/" + id + "/reject", key: other, body: map[string]any{"reason": "duplicate"}})), http.StatusOK)
	if got := do(t, call{method: "GET", path: "/v1/deals/" + id, key: f.manager}).str("status"); got != a.str("status") {
		t.Fatalf("answered %s, stored %s", a.str("status"), got)
	}
	// Won reported 25 times at once: one margin line.
	id = register()
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	exactlyOne(t, "won reported twice", burst(repeat(25, call{method: "POST", path: "/v1/deals/" + id + "/won", key: partnerKey, body: map[string]any{"final_amount": "50000.00"}})), http.StatusOK)
	exactlyOne(t, "confirm vs reject the win", burst(alternate(25,
		call{method: "POST", path: "/v1/deals/" + id + "/won/confirm", key: f.manager, body: map[string]any{"final_amount": "48000.00"}},
		call{method: "POST", path: "/v1/deals/" + id + "/won/reject", key: other, body: map[string]any{"reason": "not in our books"}})), http.StatusOK)
	if st := do(t, call{method: "GET", path: "/v1/deals/" + id, key: f.manager}).str("status"); st == "approved" {
		// The rejection won the race: a manager's own report is won at once.
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/won", key: f.manager, body: map[string]any{"final_amount": "48000.00"}}), http.StatusOK)
	}
	var lines int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM commission_lines WHERE source_id = $1", id).Scan(&lines)
	if lines != 1 {
		t.Fatalf("%d margin lines", lines)
	}
}

// Eight managers deciding eight unrelated deals at once, and a partner reading
// meanwhile: nobody waits for anybody.
func TestUnrelatedDecisionsDoNotWait(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	var calls []call
	for i := 0; i < 10; i++ {
		company, dom := uniqueCompany()
		id := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
		calls = append(calls, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: newKey(t, "manager", uuid.Nil), body: map[string]any{}})
	}
	for i := 0; i < 4; i++ {
		calls = append(calls, call{method: "GET", path: "/v1/me", key: partnerKey})
	}
	for i, r := range burst(calls) {
		t.Logf("%s %d %s", calls[i].path, r.status, r.took)
		if r.err != nil || r.status != http.StatusOK || r.took > decisionBudget {
			if wf := r.str("workflow_id"); wf != "" {
				it := sys.temporal.GetWorkflowHistory(context.Background(), wf, "", false, 0)
				for it.HasNext() {
					ev, _ := it.Next()
					t.Logf("  %s %s %v", ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventType(), ev.GetAttributes())
				}
			}
			t.Errorf("request %d (%s): %d after %s: %v %s", i, calls[i].path, r.status, r.took, r.err, r.raw)
		}
	}
}

func TestConcurrentMDFDecisions(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "reseller")
	allocate(t, f, partnerID, "10000.00")
	other := newKey(t, "manager", uuid.Nil)
	id := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("1000.00")}), http.StatusCreated).str("id")
	a := exactlyOne(t, "approve (two amounts) vs reject", burst(alternate(17,
		call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: f.manager, body: map[string]any{}},
		call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: other, body: map[string]any{"amount": "600.00"}},
		call{method: "POST", path: "/v1/mdf/requests/" + id + "/reject", key: other, body: map[string]any{"reason": "no budget"}})), http.StatusOK)
	stored := do(t, call{method: "GET", path: "/v1/mdf/requests/" + id, key: f.manager})
	if stored.str("status") != a.str("status") || stored.str("approved_amount") != a.str("approved_amount") {
		t.Fatalf("answered %s %s, stored %s %s", a.str("status"), a.str("approved_amount"), stored.str("status"), stored.str("approved_amount"))
	}
	checkLedger(t)
}

func TestConcurrentReviewDecisions(t *testing.T) {
	f := affiliateProgram(t)
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: f.partnerKey}), http.StatusOK)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	r := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "50.00", "coupon_code": coupon,
		"customer_email": me.str("email")}), http.StatusCreated)
	id := r.str("id")
	a := exactlyOne(t, "approve vs reject a flagged conversion", burst(alternate(25,
		call{method: "POST", path: "/v1/conversions/" + id + "/approve", key: f.manager, body: map[string]any{}},
		call{method: "POST", path: "/v1/conversions/" + id + "/reject", key: f.manager, body: map[string]any{"reason": "self-referral"}})), http.StatusOK)
	if got := do(t, call{method: "GET", path: "/v1/conversions/" + id, key: f.manager}).str("review_status"); got != a.str("review_status") {
		t.Fatalf("answered %s, stored %s", a.str("review_status"), got)
	}
}

// 50 finance clicks on "start the close" for one period: one close.
func TestConcurrentCloseStartsAndSignOffs(t *testing.T) {
	f := closeProgram(t, "file")
	month := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")
	line(t, f.programID, f.a, "commission", "75.00", time.Now().UTC().AddDate(0, -1, -time.Now().UTC().Day()+1), "payable")
	rs := burst(repeat(50, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": month}}))
	created, ids := 0, map[string]bool{}
	for i, r := range rs {
		if r.err != nil || (r.status != http.StatusCreated && r.status != http.StatusOK) || r.took > decisionBudget {
			t.Fatalf("start %d: %d after %s: %v %s", i, r.status, r.took, r.err, r.raw)
		}
		if r.status == http.StatusCreated {
			created++
		}
		ids[r.str("id")] = true
	}
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d created, %d distinct closes", created, len(ids))
	}
	var id string
	for k := range ids {
		id = k
	}
	if n := countWhere(t, "closes", "program_id = '"+f.programID+"'"); n != 1 {
		t.Fatalf("%d closes stored", n)
	}
	waitClose(t, f.finance, id, "review")
	other := newKey(t, "finance", uuid.Nil)
	exactlyOne(t, "sign-offs", burst(alternate(25,
		call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}},
		call{method: "POST", path: "/v1/closes/" + id + "/approve", key: other, body: map[string]any{}})), http.StatusOK)

	// A file payout marked paid and failed at once by two people: one of them.
	var payoutID string
	eventually(t, "the payout submitted", func() bool {
		r := do(t, call{method: "GET", path: "/v1/closes/" + id, key: f.finance})
		ps, _ := r.body["payouts"].([]any)
		if len(ps) == 1 && ps[0].(map[string]any)["status"] == "submitted" {
			payoutID = ps[0].(map[string]any)["id"].(string)
			return true
		}
		return false
	})
	a := exactlyOne(t, "mark paid vs failed", burst(alternate(25,
		call{method: "POST", path: "/v1/payouts/" + payoutID + "/mark-paid", key: f.finance, body: map[string]any{}},
		call{method: "POST", path: "/v1/payouts/" + payoutID + "/mark-failed", key: other, body: map[string]any{"reason": "bank refused"}})), http.StatusOK)
	var status string
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT status FROM payouts WHERE id = $1", payoutID).Scan(&status)
	if status != a.str("status") {
		t.Fatalf("answered %s, stored %s", a.str("status"), status)
	}
	// Every one of these decisions is in the audit log, applied once.
	audit := expect(t, do(t, call{method: "GET", path: "/v1/audit?record_id=" + payoutID, key: f.admin}), http.StatusOK)
	applied := 0
	for _, e := range audit.body["data"].([]any) {
		if e.(map[string]any)["outcome"] == "applied" {
			applied++
		}
	}
	if applied != 1 {
		t.Fatalf("%d applied audit events for the payout: %s", applied, audit.raw)
	}
}

// 50 identical conversion postbacks at once: one conversion, one answer.
func TestIdenticalConcurrentPostbacks(t *testing.T) {
	f := affiliateProgram(t)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	ext := "order-" + uuid.NewString()
	body := map[string]any{"program_id": f.programID, "currency": "EUR", "external_id": ext, "kind": "sale", "amount": "80.00", "coupon_code": coupon,
		"occurred_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)}
	rs := burst(repeat(50, call{method: "POST", path: "/v1/conversions", key: f.integration, body: body}))
	var first []byte
	for i, r := range rs {
		if r.err != nil || (r.status != http.StatusCreated && r.status != http.StatusOK) {
			t.Fatalf("postback %d: %d %v %s", i, r.status, r.err, r.raw)
		}
		var b map[string]any
		_ = json.Unmarshal(r.raw, &b)
		canon, _ := json.Marshal(b)
		if first == nil {
			first = canon
		} else if !bytes.Equal(first, canon) {
			t.Fatalf("postback %d answered another conversion:\n%s\n%s", i, canon, first)
		}
	}
	if n := countWhere(t, "conversions", "external_id = '"+ext+"'"); n != 1 {
		t.Fatalf("%d conversions stored", n)
	}
}

// A second open registration for the same customer by the same partner is told
// which deal it repeats; 50 at once store one.
func TestRepeatedRegistrationNamesTheOpenDeal(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	company, dom := uniqueCompany()
	rs := burst(repeat(50, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}))
	var id string
	for _, r := range rs {
		if r.status == http.StatusCreated {
			if id != "" {
				t.Fatalf("two deals created")
			}
			id = r.str("id")
		}
	}
	for i, r := range rs {
		if r.status == http.StatusConflict && (r.str("error", "code") != "already_registered" || r.str("error", "record_id") != id) {
			t.Fatalf("repeat %d: %s (deal %s)", i, r.raw, id)
		} else if r.status != http.StatusConflict && r.status != http.StatusCreated {
			t.Fatalf("repeat %d: %d %s", i, r.status, r.raw)
		}
	}
	if n := countWhere(t, "deals", "customer_domain = '"+dom+"'"); n != 1 {
		t.Fatalf("%d deals stored", n)
	}
}

func countWhere(t *testing.T, table, where string) int {
	t.Helper()
	var n int
	if err := sys.store.Pool.QueryRow(context.Background(), fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", table, where)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A decision not settled within API_DECISION_WAIT answers 202; the same request
// with the same Idempotency-Key is the same Update, and answers what happened.
func TestPendingDecisionRetriedWithItsKey(t *testing.T) {
	cfg := testAPIConfig()
	cfg.DecisionWait = time.Millisecond // nothing settles that fast
	cfg.Click.TokenKey = nil            // no second click path
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	impatient := httptest.NewServer(s.Handler())
	defer impatient.Close()

	f := newProgram(t)
	id := apply(t, f, "affiliate")
	key := map[string]string{"Idempotency-Key": "approve-" + id}
	first := doAt(t, impatient.URL, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key})
	if first.status != http.StatusAccepted || first.str("status") != "pending" || first.str("workflow_id") != "partner-"+id {
		t.Fatalf("first answer: %d %s", first.status, first.raw)
	}
	// The retry (through the patient server) learns the real outcome, with the key.
	again := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key}), http.StatusOK)
	if again.str("status") != "awaiting_agreement" || again.str("api_key") == "" {
		t.Fatalf("retry: %s", again.raw)
	}
	if me := do(t, call{method: "GET", path: "/v1/me", key: again.str("api_key")}); me.status != http.StatusOK {
		t.Fatalf("the key from the retry: %d %s", me.status, me.raw)
	}
	var approvals int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM partner_events WHERE partner_id = $1 AND kind = 'approved'", id).Scan(&approvals)
	if approvals != 1 {
		t.Fatalf("%d approvals recorded", approvals)
	}
}

// A decision Temporal never accepted (its server is away) is not "pending": the
// answer is 503 with Retry-After, nothing is recorded, the Idempotency-Key stays
// free, and the same request later, with the key, is carried out once.
func TestDecisionNotAcceptedAnswers503(t *testing.T) {
	away, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer away.Close()
	cfg := testAPIConfig()
	cfg.AcceptWait, cfg.Click.TokenKey = 500*time.Millisecond, nil
	s, err := api.New(cfg, sys.store, away, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	f := newProgram(t)
	id := apply(t, f, "affiliate")
	key := map[string]string{"Idempotency-Key": "approve-away-" + id}
	r := doAt(t, srv.URL, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key})
	if r.status != http.StatusServiceUnavailable || r.str("error", "code") != "not_accepted" || r.header.Get("Retry-After") == "" {
		t.Fatalf("a decision Temporal never saw: %d %v %s", r.status, r.header, r.raw)
	}
	if st := expect(t, do(t, call{method: "GET", path: "/v1/partners/" + id, key: f.manager}), http.StatusOK).str("status"); st != "pending_review" {
		t.Fatalf("the partner is %s", st)
	}
	again := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}, headers: key}), http.StatusOK)
	if again.str("status") != "awaiting_agreement" || again.header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("the retry: %v %s", again.header, again.raw)
	}
}

// Postbacks at once are recorded in batches (one transaction for many): 120
// different conversions, some sent two or three times and some reused with
// another body, all at once. Each external id is one conversion with one line;
// its copies answer the same body (201 once, 200 after) and what reuses it with
// another body is refused (409); every answer is what GET answers after; and
// the batches carried more than one postback.
func TestConcurrentPostbacksAreBatched(t *testing.T) {
	f := affiliateProgram(t)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	batches := func() (count, single float64) {
		resp, err := http.Get(sys.metrics.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "partnerops_conversion_batch_size_count "); ok {
				count, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(line, `partnerops_conversion_batch_size_bucket{le="1"} `); ok {
				single, _ = strconv.ParseFloat(v, 64)
			}
		}
		return count, single
	}
	count0, single0 := batches()
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	run := uuid.NewString()[:8]
	var calls []call
	conflicting := map[string]bool{}
	for i := range 120 {
		ext := fmt.Sprintf("batch-%s-%d", run, i)
		body := map[string]any{"program_id": f.programID, "currency": "EUR", "external_id": ext, "kind": "sale",
			"amount": fmt.Sprintf("%d.50", 20+i), "coupon_code": coupon, "occurred_at": at}
		for range 1 + i%3 {
			calls = append(calls, call{method: "POST", path: "/v1/conversions", key: f.integration, body: body})
		}
		if i%10 == 0 {
			other := maps.Clone(body)
			other["amount"] = "1.00"
			calls = append(calls, call{method: "POST", path: "/v1/conversions", key: f.integration, body: other})
			conflicting[ext] = true
		}
	}
	rs := burst(calls)
	created, answers := map[string]int{}, map[string][]string{}
	for i, r := range rs {
		ext := calls[i].body.(map[string]any)["external_id"].(string)
		switch {
		case r.err != nil:
			t.Fatalf("postback %d: %v", i, r.err)
		case r.status == http.StatusConflict && conflicting[ext]:
			continue
		case r.status != http.StatusCreated && r.status != http.StatusOK:
			t.Fatalf("postback %d (%s): %d %s", i, ext, r.status, r.raw)
		case r.status == http.StatusCreated:
			created[ext]++
		}
		var b map[string]any
		_ = json.Unmarshal(r.raw, &b)
		canon, _ := json.Marshal(b)
		answers[ext] = append(answers[ext], string(canon))
	}
	for i := range 120 {
		ext := fmt.Sprintf("batch-%s-%d", run, i)
		if created[ext] != 1 {
			t.Fatalf("%s: %d answers 201", ext, created[ext])
		}
		var first map[string]any
		_ = json.Unmarshal([]byte(answers[ext][0]), &first)
		id, _ := first["id"].(string)
		stored := expect(t, do(t, call{method: "GET", path: "/v1/conversions/" + id, key: f.manager}), http.StatusOK)
		var b map[string]any
		_ = json.Unmarshal(stored.raw, &b)
		canon, _ := json.Marshal(b)
		for _, a := range answers[ext] {
			if a != string(canon) {
				t.Fatalf("%s answered\n%s\nbut GET answers\n%s", ext, a, canon)
			}
		}
		if lines, _ := b["commission_lines"].([]any); len(lines) != 1 {
			t.Fatalf("%s: %d lines", ext, len(lines))
		}
	}
	if n := countWhere(t, "conversions", "external_id LIKE 'batch-"+run+"-%'"); n != 120 {
		t.Fatalf("%d conversions stored", n)
	}
	if n := countWhere(t, "commission_lines", "description LIKE '%batch-"+run+"-%'"); n != 120 {
		t.Fatalf("%d lines stored", n)
	}
	count, single := batches()
	if count-count0 == 0 || count-count0 == single-single0 {
		t.Fatalf("%v batches, %v of one postback: nothing was batched", count-count0, single-single0)
	}
}
