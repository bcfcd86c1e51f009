//go:build e2e

package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/partnerops/partnerops/domain"
)

// activePartner onboards a partner of the type through the API and returns its
// ID and key. Resellers get their required certification.
func activePartner(t *testing.T, f fixture, partnerType string) (string, string) {
	t.Helper()
	id := apply(t, f, partnerType)
	key := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK).str("api_key")
	expect(t, do(t, call{method: "POST", path: "/v1/me/agreement", key: key, body: map[string]any{"version": "2026-01"}}), http.StatusOK)
	if partnerType == "reseller" {
		r := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/certifications", key: f.manager,
			body: map[string]any{"name": "sales-fundamentals", "passed_at": "2026-01-01", "expires_at": "2099-01-01"}}), http.StatusCreated)
		if r.str("status") != "active" {
			t.Fatalf("not active: %s", r.raw)
		}
	}
	return id, key
}

func dealBody(company, domain string) map[string]any {
	mailDomain, _ := strings.CutPrefix(domain, "https://")
	mailDomain, _, _ = strings.Cut(mailDomain, "/")
	return map[string]any{
		"customer_name": company, "customer_domain": domain, "country": "DE",
		"contact_name": "Jana Weber", "contact_email": "jana.weber@" + strings.TrimPrefix(mailDomain, "www."),
		"estimated_value": "48000.00", "currency": "EUR", "products": []string{"Platform", "Support"},
		"expected_close_date": time.Now().UTC().Format(time.DateOnly), "notes": "met at a trade show",
	}
}

func uniqueCompany() (string, string) {
	n := uuid.NewString()[:8]
	return "Globex " + n + " GmbH", "globex-" + n + ".de"
}

// waitDeal polls the deal until cond holds.
func waitDeal(t *testing.T, key, id string, cond func(response) bool) response {
	t.Helper()
	var r response
	eventually(t, "deal "+id, func() bool {
		r = do(t, call{method: "GET", path: "/v1/deals/" + id, key: key})
		return cond(r)
	})
	return r
}

func TestDealEndToEnd(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	company, dom := uniqueCompany()

	created := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, "https://sales."+dom+"/contact"),
		headers: map[string]string{"Idempotency-Key": "deal-" + dom}}), http.StatusCreated)
	id := created.str("id")
	if created.str("status") != "pending_approval" || created.str("customer_domain") != dom || created.str("stage") != "registered" || created.str("workflow_id") != "deal-"+id {
		t.Fatalf("created: %s", created.raw)
	}

	approved := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{"margin": "0.18", "reason": "strategic account"}}), http.StatusOK)
	until, err := time.Parse(time.RFC3339, approved.str("protected_until"))
	if approved.str("status") != "approved" || approved.str("margin") != "0.1800" || err != nil || until.Sub(time.Now()) < 89*24*time.Hour {
		t.Fatalf("approved: %s", approved.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusConflict)

	if r := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/stage", key: partnerKey, body: map[string]any{"stage": "proposal"}}), http.StatusOK); r.str("stage") != "proposal" {
		t.Fatalf("stage: %s", r.raw)
	}
	r := do(t, call{method: "POST", path: "/v1/deals/" + id + "/stage", key: partnerKey, body: map[string]any{"stage": "closing"}})
	if code, _ := r.errCode(); r.status != http.StatusUnprocessableEntity || code != "unknown_stage" {
		t.Fatalf("unknown stage: %d %s", r.status, r.raw)
	}

	// Managers list what expires soon; a partner filters its own by status.
	listed := func(key, q string) int {
		return len(expect(t, do(t, call{method: "GET", path: "/v1/deals?" + q, key: key}), http.StatusOK).body["data"].([]any))
	}
	if listed(f.manager, "status=approved&expiring_within=100&partner_id="+created.str("partner_id")) != 1 ||
		listed(f.manager, "status=approved&expiring_within=10&partner_id="+created.str("partner_id")) != 0 ||
		listed(partnerKey, "status=pending_approval") != 0 || listed(partnerKey, "status=approved&stage=proposal") != 1 || listed(partnerKey, "stage=registered") != 0 {
		t.Fatal("deal list filters")
	}
	if r := do(t, call{method: "GET", path: "/v1/deals?expiring_within=soon", key: f.manager}); r.status != http.StatusBadRequest {
		t.Fatalf("bad expiring_within: %d", r.status)
	}

	// An operator finds it in the Temporal UI: approved deals expiring within 100 days.
	eventually(t, "the deal to be searchable by expiry", func() bool {
		q := fmt.Sprintf("PartneropsKind = 'deal' AND PartneropsDealId = '%s' AND PartneropsStatus = 'approved' AND PartneropsExpiresAt < '%s'", id, time.Now().AddDate(0, 0, 100).UTC().Format(time.RFC3339))
		resp, err := sys.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		return err == nil && len(resp.Executions) == 1
	})

	ext := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/extension", key: partnerKey, body: map[string]any{"reason": "legal review takes longer"}}), http.StatusOK)
	if ext.body["pending_extension"] == nil {
		t.Fatalf("extension request: %s", ext.raw)
	}
	extended := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/extension/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	newUntil, _ := time.Parse(time.RFC3339, extended.str("protected_until"))
	if got := newUntil.Sub(until); got != 30*24*time.Hour {
		t.Fatalf("extended by %v: %s", got, extended.raw)
	}
	r = do(t, call{method: "POST", path: "/v1/deals/" + id + "/extension", key: partnerKey, body: map[string]any{"reason": "again"}})
	if code, _ := r.errCode(); r.status != http.StatusConflict || code != "no_extensions_left" {
		t.Fatalf("second extension: %d %s", r.status, r.raw)
	}

	// The partner reports it won; the margin line waits for the vendor's word. A
	// partner cannot confirm its own report.
	reported := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/won", key: partnerKey, body: map[string]any{"final_amount": "52000.00"}}), http.StatusOK)
	if reported.str("status") != "won_reported" || reported.str("reported_amount") != "52000.00" || reported.body["margin_line"] != nil {
		t.Fatalf("reported: %s", reported.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/won/confirm", key: partnerKey, body: map[string]any{}}), http.StatusForbidden)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/won", key: partnerKey, body: map[string]any{"final_amount": "99000.00"}}), http.StatusConflict)
	won := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/won/confirm", key: f.manager, body: map[string]any{}}), http.StatusOK)
	if won.str("status") != "won" || won.str("final_amount") != "52000.00" || won.str("margin_line", "amount") != "9360.00" || won.str("margin_line", "status") != "payable" || won.str("margin_line", "currency") != "EUR" {
		t.Fatalf("won: %s", won.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/lost", key: partnerKey, body: map[string]any{"reason": "x"}}), http.StatusConflict)

	full := expect(t, do(t, call{method: "GET", path: "/v1/deals/" + id, key: partnerKey}), http.StatusOK)
	var kinds []string
	for _, e := range full.body["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if got := strings.Join(kinds, ","); got != "approved,stage,extension_requested,extended,won_reported,won" {
		t.Fatalf("timeline %s", got)
	}
	// The idempotent registration replays; nothing new is created.
	again := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, "https://sales."+dom+"/contact"),
		headers: map[string]string{"Idempotency-Key": "deal-" + dom}}), http.StatusCreated)
	if again.str("id") != id {
		t.Fatalf("replay created another deal: %s", again.raw)
	}
}

// An exact match on another partner's protected deal is rejected at once; a
// similar name is flagged for the approver with a score; an existing customer is refused.
func TestDealConflicts(t *testing.T) {
	f := newProgram(t)
	_, keyA := activePartner(t, f, "reseller")
	_, keyB := activePartner(t, f, "affiliate")
	company, dom := uniqueCompany()
	first := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: keyA, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + first + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)

	// Partner B, same customer through a subdomain and a different spelling.
	dup := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: keyB, body: dealBody(strings.ToUpper(company)+", Inc.", "https://www.emea."+dom)}), http.StatusCreated).str("id")
	r := waitDeal(t, keyB, dup, func(r response) bool { return r.str("status") != "pending_approval" })
	if r.str("status") != "rejected" || !strings.Contains(r.str("close_reason"), "already registered") {
		t.Fatalf("duplicate: %s", r.raw)
	}

	// A similar name on another domain: waits for the approver, flagged with a score.
	near := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: keyB, body: dealBody(strings.Replace(company, "Globex", "Globexx", 1), "other-"+dom)}), http.StatusCreated).str("id")
	r = waitDeal(t, f.manager, near, func(r response) bool { c, _ := r.body["conflicts"].([]any); return len(c) > 0 })
	flag := r.body["conflicts"].([]any)[0].(map[string]any)
	if r.str("status") != "pending_approval" || flag["id"] != first || flag["exact"] != false || flag["score"].(float64) < domain.NearMatchThreshold {
		t.Fatalf("near match: %s", r.raw)
	}

	// The vendor's own customer.
	cust, custDom := uniqueCompany()
	expect(t, do(t, call{method: "POST", path: "/v1/customers", key: f.admin, body: map[string]any{"customers": []map[string]any{{"name": cust, "domain": custDom, "country": "DE"}}}}), http.StatusCreated)
	own := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: keyA, body: dealBody(cust, custDom)}), http.StatusCreated).str("id")
	r = waitDeal(t, keyA, own, func(r response) bool { return r.str("status") != "pending_approval" })
	if r.str("status") != "rejected" || !strings.Contains(r.str("close_reason"), "existing customer") {
		t.Fatalf("existing customer: %s", r.raw)
	}
}

// Two partners race for the same customer: both registrations wait for approval,
// a manager approves both at once, and exactly one deal ends protected.
func TestConcurrentRegistrationsEndWithOneProtectedDeal(t *testing.T) {
	f := newProgram(t)
	_, keyA := activePartner(t, f, "affiliate")
	_, keyB := activePartner(t, f, "affiliate")
	company, dom := uniqueCompany()

	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i, key := range []string{keyA, keyB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = do(t, call{method: "POST", path: "/v1/deals", key: key, body: dealBody(company, dom)}).str("id")
		}()
	}
	wg.Wait()
	statuses := make([]int, 2)
	for i, id := range ids {
		if id == "" {
			t.Fatal("a registration failed")
		}
		waitDeal(t, f.manager, id, func(r response) bool { return r.body["conflicts"] != nil })
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{}}).status
		}()
	}
	wg.Wait()
	var protected int
	if err := sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM deals WHERE customer_domain = $1 AND status = 'approved'", dom).Scan(&protected); err != nil {
		t.Fatal(err)
	}
	ok := map[int]int{}
	for _, s := range statuses {
		ok[s]++
	}
	if protected != 1 || ok[http.StatusOK] != 1 || ok[http.StatusConflict] != 1 {
		t.Fatalf("protected %d, approval answers %v", protected, statuses)
	}
}

func TestDealAuthorization(t *testing.T) {
	f := newProgram(t)
	_, keyA := activePartner(t, f, "affiliate")
	_, keyB := activePartner(t, f, "affiliate")
	company, dom := uniqueCompany()
	id := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: keyA, body: dealBody(company, dom)}), http.StatusCreated).str("id")

	for _, c := range []call{
		{method: "GET", path: "/v1/deals/" + id},
		{method: "POST", path: "/v1/deals/" + id + "/stage", body: map[string]any{"stage": "qualified"}},
		{method: "POST", path: "/v1/deals/" + id + "/lost", body: map[string]any{"reason": "sabotage"}},
		{method: "POST", path: "/v1/deals/" + id + "/extension", body: map[string]any{"reason": "x"}},
	} {
		c.key = keyB
		if r := do(t, c); r.status != http.StatusNotFound {
			t.Errorf("partner B %s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	for _, key := range []string{keyA, keyB, f.finance, f.admin} { // nobody but a manager approves, the deal's partner included
		if r := do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: key, body: map[string]any{}}); r.status != http.StatusForbidden {
			t.Errorf("approve: %d %s", r.status, r.raw)
		}
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/deals?partner_id=" + uuid.NewString(), key: keyB}), http.StatusOK); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("partner B listed others' deals: %s", r.raw)
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/deals", key: keyA}), http.StatusOK); len(r.body["data"].([]any)) != 1 {
		t.Fatalf("partner A's list: %s", r.raw)
	}
	if r := do(t, call{method: "POST", path: "/v1/deals", key: f.manager, body: dealBody(company, dom)}); r.status != http.StatusForbidden {
		t.Fatalf("a manager registering: %d", r.status)
	}

	// A partner that is not active cannot register, and is told why.
	pending := apply(t, f, "reseller")
	pendingKey := newKey(t, domain.RolePartner, uuid.MustParse(pending))
	r := do(t, call{method: "POST", path: "/v1/deals", key: pendingKey, body: dealBody(company, "x"+dom)})
	if code, _ := r.errCode(); r.status != http.StatusForbidden || code != "partner_not_active" || !strings.Contains(r.str("error", "message"), "pending review") {
		t.Fatalf("inactive partner: %d %s", r.status, r.raw)
	}
}

func TestBadDealsWriteNothing(t *testing.T) {
	f := newProgram(t)
	_, key := activePartner(t, f, "affiliate")
	company, dom := uniqueCompany()
	with := func(k string, v any) map[string]any {
		m := dealBody(company, dom)
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
		{"no customer", with("customer_name", nil), "customer_name"},
		{"only a legal form", with("customer_name", "  "), "customer_name"},
		{"bad domain", with("customer_domain", "globex"), "customer_domain"},
		{"public suffix only", with("customer_domain", "co.uk"), "customer_domain"},
		{"bad country", with("country", "Germany"), "country"},
		{"lower-case country", with("country", "de"), "country"},
		{"bad contact email", with("contact_email", "jana"), "contact_email"},
		{"no contact", with("contact_name", nil), "contact_name"},
		{"zero value", with("estimated_value", "0"), "estimated_value"},
		{"negative value", with("estimated_value", "-5"), "estimated_value"},
		{"too many decimals", with("estimated_value", "10.005"), "estimated_value"},
		{"value as garbage", with("estimated_value", "lots"), "estimated_value"},
		{"other currency", with("currency", "USD"), "currency"},
		{"bad currency", with("currency", "euro"), "currency"},
		{"no products", with("products", []string{}), "products"},
		{"blank product", with("products", []string{" "}), "products"},
		{"bad date", with("expected_close_date", "next week"), "expected_close_date"},
		{"unknown field", with("status", "approved"), "status"},
	}
	before := countRows(t, "deals")
	for _, c := range cases {
		r := do(t, call{method: "POST", path: "/v1/deals", key: key, body: c.body})
		if code, field := r.errCode(); r.status < 400 || r.status >= 500 || code == "" || field != c.field {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if countRows(t, "deals") != before {
		t.Fatal("a refused deal was stored")
	}
	id := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: key, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/approve", map[string]any{"margin": "1.5"}, 422},
		{"/approve", map[string]any{"margin": "abc"}, 422},
		{"/reject", map[string]any{}, 422},
		{"/won", map[string]any{"final_amount": "100"}, 409}, // not protected yet
		{"/extension/approve", map[string]any{}, 409},
	} {
		k := f.manager
		if c.path == "/won" {
			k = key
		}
		if r := do(t, call{method: "POST", path: "/v1/deals/" + id + c.path, key: k, body: c.body}); r.status != c.want {
			t.Errorf("%s %v: %d %s", c.path, c.body, r.status, r.raw)
		}
	}
	if r := do(t, call{method: "GET", path: "/v1/deals/" + id, key: key}); r.str("status") != "pending_approval" || len(r.body["timeline"].([]any)) != 0 {
		t.Fatalf("after refused decisions: %s", r.raw)
	}
}

// The pipeline report, to the cent, against deals made here in their own program.
func TestPipelineReport(t *testing.T) {
	f := newProgram(t)
	_, key := activePartner(t, f, "affiliate")
	values := []struct {
		value, stage string
	}{{"10000.00", "registered"}, {"20000.00", "proposal"}, {"333.33", "proposal"}}
	for _, v := range values {
		company, dom := uniqueCompany()
		b := dealBody(company, dom)
		b["estimated_value"] = v.value
		id := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: key, body: b}), http.StatusCreated).str("id")
		expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
		if v.stage != "registered" {
			expect(t, do(t, call{method: "POST", path: "/v1/deals/" + id + "/stage", key: key, body: map[string]any{"stage": v.stage}}), http.StatusOK)
		}
	}
	r := expect(t, do(t, call{method: "GET", path: "/v1/reports/pipeline?group_by=stage&program_id=" + f.programID, key: f.manager}), http.StatusOK)
	got := map[string]string{}
	for _, g := range r.body["groups"].([]any) {
		m := g.(map[string]any)
		got[m["group_key"].(string)] = fmt.Sprintf("%v/%v/%v", m["deals"], m["total_value"], m["weighted_forecast"])
	}
	// registered: 10000 × 0.10 = 1000.00; proposal: 20333.33 × 0.50 = 10166.665 → 10166.67 (rounded once, per group)
	want := map[string]string{"registered": "1/10000.00/1000.00", "proposal": "2/20333.33/10166.67"}
	if len(got) != 2 || got["registered"] != want["registered"] || got["proposal"] != want["proposal"] {
		t.Fatalf("pipeline %v, want %v (%s)", got, want, r.raw)
	}
	r = expect(t, do(t, call{method: "GET", path: "/v1/reports/pipeline?group_by=tier&program_id=" + f.programID, key: f.finance}), http.StatusOK)
	if g := r.body["groups"].([]any); len(g) != 1 || g[0].(map[string]any)["group_label"] != "Registered" || g[0].(map[string]any)["weighted_forecast"] != "11166.67" {
		t.Fatalf("by tier: %s", r.raw)
	}
	for _, q := range []string{"group_by=country", "from=yesterday", "from=2026-06-01&to=2026-01-01"} {
		if r := do(t, call{method: "GET", path: "/v1/reports/pipeline?" + q, key: f.manager}); r.status != http.StatusBadRequest {
			t.Errorf("?%s: %d", q, r.status)
		}
	}
	if r := do(t, call{method: "GET", path: "/v1/reports/pipeline", key: key}); r.status != http.StatusForbidden {
		t.Fatalf("a partner reading the pipeline: %d", r.status)
	}
}

// Program settings reach the processes: deals registered afterwards use the new
// stages and SLA; MDF requests the new claim window.
func TestProgramProcessSettings(t *testing.T) {
	f := newProgram(t)
	_, key := activePartner(t, f, "affiliate")
	settings := map[string]any{"approval_sla_hours": 12, "auto_decision": "approve", "max_extensions": 2, "extension_days": 45,
		"stages": []map[string]any{{"name": "discovery", "probability": "0.2"}, {"name": "pilot", "probability": "0.6"}}}
	p := expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/deals", key: f.admin, body: settings}), http.StatusOK)
	if p.str("deal_auto_decision") != "approve" {
		t.Fatalf("settings: %s", p.raw)
	}
	company, dom := uniqueCompany()
	d := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: key, body: dealBody(company, dom)}), http.StatusCreated)
	if d.str("stage") != "discovery" {
		t.Fatalf("first stage: %s", d.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + d.str("id") + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	if r := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + d.str("id") + "/stage", key: key, body: map[string]any{"stage": "pilot"}}), http.StatusOK); r.str("stage") != "pilot" {
		t.Fatalf("custom stage: %s", r.raw)
	}

	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/mdf", key: f.admin,
		body: map[string]any{"approval_sla_hours": 24, "claim_window_days": 10, "proof_window_days": 5, "grace_days": 3}}), http.StatusOK)
	pid := expect(t, do(t, call{method: "GET", path: "/v1/me", key: key}), http.StatusOK).str("id")
	allocate(t, f, pid, "1000.00")
	req := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("100.00")}), http.StatusCreated)
	ok := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + req.str("id") + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	deadline, _ := time.Parse(time.RFC3339, ok.str("claim_deadline"))
	yesterday, _ := time.Parse(time.DateOnly, time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly))
	if want := yesterday.AddDate(0, 0, 11); !deadline.Equal(want) { // the end of the activity's last day + 10 days
		t.Fatalf("claim deadline %v, want %v", deadline, want)
	}

	for name, c := range map[string]struct {
		path  string
		body  map[string]any
		field string
	}{
		"no stages":       {"deals", map[string]any{"approval_sla_hours": 1, "auto_decision": "none", "max_extensions": 0, "extension_days": 1, "stages": []any{}}, "stages"},
		"won as a stage":  {"deals", map[string]any{"approval_sla_hours": 1, "auto_decision": "none", "max_extensions": 0, "extension_days": 1, "stages": []map[string]any{{"name": "won", "probability": "1"}}}, "stages"},
		"probability 2":   {"deals", map[string]any{"approval_sla_hours": 1, "auto_decision": "none", "max_extensions": 0, "extension_days": 1, "stages": []map[string]any{{"name": "a", "probability": "2"}}}, "stages"},
		"bad decision":    {"deals", map[string]any{"approval_sla_hours": 1, "auto_decision": "maybe", "max_extensions": 0, "extension_days": 1, "stages": []map[string]any{{"name": "a", "probability": "0.5"}}}, "auto_decision"},
		"no claim window": {"mdf", map[string]any{"approval_sla_hours": 1, "claim_window_days": 0, "proof_window_days": 1, "grace_days": 0}, "claim_window_days"},
		"no grace":        {"mdf", map[string]any{"approval_sla_hours": 1, "claim_window_days": 1, "proof_window_days": 1}, "grace_days"},
	} {
		r := do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/" + c.path, key: f.admin, body: c.body})
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code == "" || field != c.field {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/deals", key: f.manager, body: settings}); r.status != http.StatusForbidden {
		t.Fatalf("a manager changing program settings: %d", r.status)
	}
}
