//go:build e2e

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

var pdf = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// claimForm posts a multipart claim.
func claimForm(t *testing.T, key, id string, fields map[string]string, files map[string][]byte, headers map[string]string) response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, data := range files {
		field := "files"
		if strings.HasPrefix(name, "field:") { // a file under another field name
			field, name, _ = strings.Cut(strings.TrimPrefix(name, "field:"), "/")
		}
		w, _ := mw.CreateFormFile(field, name)
		_, _ = w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", sys.api.URL+"/v1/mdf/requests/"+id+"/claim", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func mdfBody(amount string) map[string]any {
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	return map[string]any{"activity_type": "event", "description": "Joint roadshow in Munich", "start_date": yesterday, "end_date": yesterday,
		"amount": amount, "currency": "EUR", "expected_outcomes": map[string]int{"leads": 50}}
}

func allocate(t *testing.T, f fixture, partnerID, amount string) {
	t.Helper()
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/allocations", key: f.manager, body: map[string]any{"partner_id": partnerID, "amount": amount}}), http.StatusCreated)
}

func balance(t *testing.T, key string) response {
	t.Helper()
	return expect(t, do(t, call{method: "GET", path: "/v1/mdf/balance", key: key}), http.StatusOK)
}

func checkLedger(t *testing.T) {
	t.Helper()
	unbalanced, err := sys.store.UnbalancedEntries(context.Background())
	if err != nil || len(unbalanced) != 0 {
		t.Fatalf("unbalanced ledger entries %v (%v)", unbalanced, err)
	}
}

func TestMDFEndToEnd(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "reseller")
	allocate(t, f, partnerID, "10000.00")
	if b := balance(t, key); b.str("allocated") != "10000.00" || b.str("available") != "10000.00" || b.str("quarter") != domain.Quarter(time.Now()) {
		t.Fatalf("after allocation: %s", b.raw)
	}

	req := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("5000.00")}), http.StatusCreated)
	id := req.str("id")
	if req.str("status") != "pending_approval" || req.str("workflow_id") != "mdf-"+id {
		t.Fatalf("request: %s", req.raw)
	}
	if b := balance(t, key); b.str("reserved") != "5000.00" || b.str("available") != "5000.00" {
		t.Fatalf("after request: %s", b.raw)
	}
	r := do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("5000.01")})
	if code, field := r.errCode(); r.status != http.StatusConflict || code != "insufficient_funds" || field != "amount" || !strings.Contains(r.str("error", "message"), "5000.00 EUR") {
		t.Fatalf("overspend: %d %s", r.status, r.raw)
	}

	approved := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: f.manager, body: map[string]any{"amount": "4000.00"}}), http.StatusOK)
	if approved.str("status") != "approved" || approved.str("approved_amount") != "4000.00" || approved.str("claim_deadline") == "" {
		t.Fatalf("approve: %s", approved.raw)
	}
	if b := balance(t, key); b.str("approved") != "4000.00" || b.str("available") != "6000.00" || b.str("reserved") != "0.00" {
		t.Fatalf("after partial approval: %s", b.raw)
	}

	claimKey := map[string]string{"Idempotency-Key": "claim-" + id}
	claimed := expect(t, claimForm(t, key, id, map[string]string{"amount": "3500.00", "results": `{"leads": 40, "attendees": 120}`},
		map[string][]byte{"invoice.pdf": pdf}, claimKey), http.StatusOK)
	if claimed.str("status") != "claimed" || len(claimed.body["files"].([]any)) != 1 {
		t.Fatalf("claim: %s", claimed.raw)
	}
	// The same claim sent again (a new multipart boundary) replays.
	again := expect(t, claimForm(t, key, id, map[string]string{"amount": "3500.00", "results": `{"leads": 40, "attendees": 120}`},
		map[string][]byte{"invoice.pdf": pdf}, claimKey), http.StatusOK)
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("claim retry was not a replay: %s", again.raw)
	}

	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/claim/request-proof", key: f.manager, body: map[string]any{"reason": "attendee list missing"}}), http.StatusOK)
	attendees := []byte("name,company\nJana Weber,Globex\nOle Berg,Initech\n")
	expect(t, claimForm(t, key, id, map[string]string{"amount": "3600.00", "results": `{"leads": 40, "attendees": 120}`},
		map[string][]byte{"invoice.pdf": pdf, `..\..\..\windows\attendees.csv`: attendees}, nil), http.StatusOK) // kept as its base name
	done := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/claim/approve", key: f.manager, body: map[string]any{"amount": "3000.00"}}), http.StatusOK)
	if done.str("status") != "reimbursable" || done.str("reimbursed_amount") != "3000.00" || done.str("claimed_amount") != "3600.00" {
		t.Fatalf("claim approved: %s", done.raw)
	}
	var kinds []string
	for _, e := range done.body["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if got := strings.Join(kinds, ","); got != "pre_approved,claimed,proof_requested,claimed,claim_approved" {
		t.Fatalf("timeline %s", got)
	}
	b := balance(t, key)
	if b.str("allocated") != "10000.00" || b.str("available") != "7000.00" || b.str("reimbursable") != "3000.00" || b.str("approved") != "0.00" || b.str("claimed") != "0.00" {
		t.Fatalf("final balance: %s", b.raw)
	}
	var line struct {
		amount, status, currency string
	}
	if err := sys.store.Pool.QueryRow(context.Background(), "SELECT amount::text, status, currency FROM commission_lines WHERE source_type = 'mdf_request' AND source_id = $1", id).
		Scan(&line.amount, &line.status, &line.currency); err != nil || line.amount != "3000.00" || line.status != "payable" || line.currency != "EUR" {
		t.Fatalf("reimbursement line %+v %v", line, err)
	}

	// The proof is downloadable by its partner, byte for byte.
	files := done.body["files"].([]any)
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	var csv map[string]any
	for _, f := range files {
		if f.(map[string]any)["name"] == "attendees.csv" {
			csv = f.(map[string]any)
		}
	}
	dl := expect(t, do(t, call{method: "GET", path: "/v1/mdf/requests/" + id + "/files/" + csv["id"].(string), key: key}), http.StatusOK)
	sum := sha256.Sum256(dl.raw)
	if !bytes.Equal(dl.raw, attendees) || hex.EncodeToString(sum[:]) != csv["sha256"] || csv["content_type"] != "text/plain; charset=utf-8" {
		t.Fatalf("download: %q %v", dl.raw, csv)
	}
	if cd := dl.header.Get("Content-Disposition"); cd != `attachment; filename="attendees.csv"; filename*=UTF-8''attendees.csv` {
		t.Fatalf("Content-Disposition: %s", cd)
	}
	checkLedger(t)

	// The ledger is append-only.
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE ledger_postings SET amount = amount + 1"); err == nil {
		t.Fatal("a posting was edited")
	}
	if _, err := sys.store.Pool.Exec(context.Background(), "DELETE FROM ledger_entries"); err == nil {
		t.Fatal("an entry was deleted")
	}
}

// Never overspend: twenty requests of 100 at once against an allocation of 1000.
func TestMDFConcurrentRequestsNeverOverspend(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "affiliate")
	allocate(t, f, partnerID, "1000.00")
	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("100.00")}).status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 10 || count[http.StatusConflict] != 10 {
		t.Fatalf("answers %v", count)
	}
	if b := balance(t, key); b.str("reserved") != "1000.00" || b.str("available") != "0.00" {
		t.Fatalf("balance %s", b.raw)
	}
	checkLedger(t)
}

func TestMDFReleasesAndExpiry(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "affiliate")
	allocate(t, f, partnerID, "3000.00")
	a := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("1000.00")}), http.StatusCreated).str("id")
	b := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("1500.00")}), http.StatusCreated).str("id")
	if r := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + a + "/withdraw", key: key, body: map[string]any{"reason": "event cancelled"}}), http.StatusOK); r.str("status") != "withdrawn" {
		t.Fatalf("withdraw: %s", r.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + b + "/reject", key: f.manager, body: map[string]any{}}), http.StatusUnprocessableEntity)
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + b + "/reject", key: f.manager, body: map[string]any{"reason": "not a fit"}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + b + "/approve", key: f.manager, body: map[string]any{}}), http.StatusConflict)
	if bal := balance(t, key); bal.str("available") != "3000.00" || bal.str("reserved") != "0.00" {
		t.Fatalf("after release: %s", bal.raw)
	}

	// Quarter end: what is available expires (the activity the allocation workflow runs at its timer).
	c := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("500.00")}), http.StatusCreated).str("id")
	acts := &activities.Activities{Store: sys.store}
	expired, err := acts.ExpireAllocation(context.Background(), uuid.MustParse(partnerID), domain.Quarter(time.Now()), time.Now())
	if err != nil || expired.String() != "2500" {
		t.Fatalf("expired %s %v", expired, err)
	}
	if _, err := acts.ExpireAllocation(context.Background(), uuid.MustParse(partnerID), domain.Quarter(time.Now()), time.Now()); err != nil {
		t.Fatalf("a retried expiry: %v", err)
	}
	// A release after expiry expires too; new requests are refused.
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + c + "/reject", key: f.manager, body: map[string]any{"reason": "late"}}), http.StatusOK)
	bal := balance(t, key)
	if bal.str("expired") != "3000.00" || bal.str("available") != "0.00" || bal.str("allocated") != "3000.00" {
		t.Fatalf("after expiry: %s", bal.raw)
	}
	r := do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("1.00")})
	if code, _ := r.errCode(); r.status != http.StatusConflict || code != "quarter_expired" {
		t.Fatalf("request after expiry: %d %s", r.status, r.raw)
	}
	checkLedger(t)
}

func TestMDFUploadsAreChecked(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "affiliate")
	allocate(t, f, partnerID, "1000.00")
	id := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: mdfBody("1000.00")}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)

	eleven := map[string][]byte{}
	for i := range 11 {
		eleven[fmt.Sprintf("p%d.pdf", i)] = pdf
	}
	ok := map[string]string{"amount": "100.00"}
	cases := []struct {
		name   string
		fields map[string]string
		files  map[string][]byte
		status int
		code   string
	}{
		{"no files", ok, nil, 422, "required"},
		{"too many", ok, eleven, 422, "too_many"},
		{"too large", ok, map[string][]byte{"big.pdf": append(append([]byte{}, pdf...), make([]byte, 300<<10)...)}, 422, "too_large"},
		{"an executable", ok, map[string][]byte{"invoice.pdf": []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")}, 422, "unsupported_type"},
		{"a zip", ok, map[string][]byte{"photos.zip": []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")}, 422, "unsupported_type"},
		{"empty file", ok, map[string][]byte{"empty.pdf": {}}, 422, "empty"},
		{"bad amount", map[string]string{"amount": "lots"}, map[string][]byte{"i.pdf": pdf}, 422, "invalid"},
		{"more than approved", map[string]string{"amount": "1000.01"}, map[string][]byte{"i.pdf": pdf}, 422, "invalid"},
		{"bad results", map[string]string{"amount": "10.00", "results": "forty leads"}, map[string][]byte{"i.pdf": pdf}, 422, "invalid"},
		{"negative results", map[string]string{"amount": "10.00", "results": `{"leads": -1}`}, map[string][]byte{"i.pdf": pdf}, 422, "invalid"},
		{"unknown field", map[string]string{"amount": "10.00", "status": "paid"}, map[string][]byte{"i.pdf": pdf}, 422, "unknown_field"},
		{"file under another name", ok, map[string][]byte{"field:attachment/i.pdf": pdf}, 422, "unknown_field"},
	}
	before := countRows(t, "mdf_files")
	for _, c := range cases {
		r := claimForm(t, key, id, c.fields, c.files, nil)
		if code, _ := r.errCode(); r.status != c.status || code != c.code {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	r := do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/claim", key: key, body: map[string]any{"amount": "10"}})
	if r.status != http.StatusBadRequest {
		t.Errorf("JSON instead of a form: %d %s", r.status, r.raw)
	}
	if countRows(t, "mdf_files") != before {
		t.Fatal("a refused claim recorded files")
	}
	if r := do(t, call{method: "GET", path: "/v1/mdf/requests/" + id, key: key}); r.str("status") != "approved" {
		t.Fatalf("after refused claims: %s", r.raw)
	}
}

func TestMDFAuthorization(t *testing.T) {
	f := newProgram(t)
	aID, keyA := activePartner(t, f, "affiliate")
	bID, keyB := activePartner(t, f, "affiliate")
	allocate(t, f, aID, "1000.00")
	allocate(t, f, bID, "200.00")
	id := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: keyA, body: mdfBody("500.00")}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	claim := expect(t, claimForm(t, keyA, id, map[string]string{"amount": "100.00"}, map[string][]byte{"i.pdf": pdf}, nil), http.StatusOK)
	fileID := claim.body["files"].([]any)[0].(map[string]any)["id"].(string)

	for _, c := range []call{
		{method: "GET", path: "/v1/mdf/requests/" + id},
		{method: "GET", path: "/v1/mdf/requests/" + id + "/files/" + fileID},
		{method: "POST", path: "/v1/mdf/requests/" + id + "/withdraw", body: map[string]any{}},
	} {
		c.key = keyB
		if r := do(t, c); r.status != http.StatusNotFound {
			t.Errorf("partner B %s %s: %d", c.method, c.path, r.status)
		}
	}
	if r := claimForm(t, keyB, id, map[string]string{"amount": "1.00"}, map[string][]byte{"i.pdf": pdf}, nil); r.status != http.StatusNotFound {
		t.Errorf("partner B claiming A's request: %d", r.status)
	}
	for _, key := range []string{keyA, keyB, f.finance, f.admin} {
		if r := do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/claim/approve", key: key, body: map[string]any{}}); r.status != http.StatusForbidden {
			t.Errorf("approving a claim: %d", r.status)
		}
	}
	if r := do(t, call{method: "POST", path: "/v1/mdf/allocations", key: keyA, body: map[string]any{"partner_id": aID, "amount": "1000000.00"}}); r.status != http.StatusForbidden {
		t.Errorf("a partner allocating to itself: %d", r.status)
	}
	// Partner B's balance is its own, whatever partner_id it names.
	if b := expect(t, do(t, call{method: "GET", path: "/v1/mdf/balance?partner_id=" + aID, key: keyB}), http.StatusOK); b.str("partner_id") != bID || b.str("allocated") != "200.00" {
		t.Fatalf("B's balance: %s", b.raw)
	}
	if b := expect(t, do(t, call{method: "GET", path: "/v1/mdf/balance?partner_id=" + aID, key: f.manager}), http.StatusOK); b.str("allocated") != "1000.00" {
		t.Fatalf("manager reading A: %s", b.raw)
	}
	if r := expect(t, do(t, call{method: "GET", path: "/v1/mdf/requests", key: keyB}), http.StatusOK); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("B lists A's requests: %s", r.raw)
	}
}

func TestBadMDFRequestsWriteNothing(t *testing.T) {
	f := newProgram(t)
	partnerID, key := activePartner(t, f, "affiliate")
	allocate(t, f, partnerID, "1000.00")
	with := func(k string, v any) map[string]any {
		m := mdfBody("100.00")
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, field string
		body        map[string]any
	}{
		{"bad type", "activity_type", with("activity_type", "party")},
		{"no description", "description", with("description", nil)},
		{"blank description", "description", with("description", "  ")},
		{"bad date", "start_date", with("start_date", "tomorrow")},
		{"ends before it starts", "end_date", with("end_date", "2020-01-01")},
		{"zero", "amount", with("amount", "0")},
		{"sub-cent", "amount", with("amount", "10.001")},
		{"garbage amount", "amount", with("amount", "ten")},
		{"other currency", "currency", with("currency", "USD")},
		{"negative outcome", "expected_outcomes", with("expected_outcomes", map[string]int{"leads": -5})},
		{"unknown field", "status", with("status", "approved")},
	}
	before := countRows(t, "mdf_requests")
	for _, c := range cases {
		r := do(t, call{method: "POST", path: "/v1/mdf/requests", key: key, body: c.body})
		if code, field := r.errCode(); r.status != http.StatusUnprocessableEntity || code == "" || field != c.field {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	for _, body := range []map[string]any{{"partner_id": partnerID, "amount": "-1"}, {"partner_id": partnerID, "amount": "1", "quarter": "2026-Q5"}, {"partner_id": uuid.NewString(), "amount": "1"}} {
		if r := do(t, call{method: "POST", path: "/v1/mdf/allocations", key: f.manager, body: body}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("allocation %v: %d %s", body, r.status, r.raw)
		}
	}
	if countRows(t, "mdf_requests") != before {
		t.Fatal("a refused request was stored")
	}
	if b := balance(t, key); b.str("available") != "1000.00" {
		t.Fatalf("balance moved: %s", b.raw)
	}
	// A partner without an allocation is told so.
	_, other := activePartner(t, f, "affiliate")
	if r := do(t, call{method: "POST", path: "/v1/mdf/requests", key: other, body: mdfBody("1.00")}); r.status != http.StatusConflict {
		t.Fatalf("without allocation: %d %s", r.status, r.raw)
	}
}

// The MDF report to the cent, and tier defaults allocated once per quarter.
func TestMDFReportAndTierDefaults(t *testing.T) {
	f := newProgram(t)
	aID, keyA := activePartner(t, f, "affiliate")
	bID, _ := activePartner(t, f, "affiliate")
	tiers, _ := sys.store.ListTiers(context.Background(), uuid.MustParse(f.programID))
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE partners SET tier_id = $1 WHERE id = $2", tiers[1].ID, bID); err != nil { // Gold: 10000.00 a quarter
		t.Fatal(err)
	}
	for range 2 {
		r := expect(t, do(t, call{method: "POST", path: "/v1/mdf/allocations/tier-defaults", key: f.manager, body: map[string]any{"program_id": f.programID}}), http.StatusOK)
		_ = r
	}
	allocate(t, f, aID, "2000.00")
	id := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: keyA, body: mdfBody("1500.00")}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/approve", key: f.manager, body: map[string]any{"amount": "1200.00"}}), http.StatusOK)
	expect(t, claimForm(t, keyA, id, map[string]string{"amount": "1100.00", "results": `{"leads": 30}`}, map[string][]byte{"i.pdf": pdf}, nil), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests/" + id + "/claim/approve", key: f.manager, body: map[string]any{"amount": "1000.00"}}), http.StatusOK)

	r := expect(t, do(t, call{method: "GET", path: "/v1/reports/mdf?program_id=" + f.programID, key: f.finance}), http.StatusOK)
	got := map[string]string{}
	for _, p := range r.body["partners"].([]any) {
		m := p.(map[string]any)
		got[m["partner_id"].(string)] = fmt.Sprintf("%v %v %v %v %v %v %v %v %v %v", m["tier"], m["allocated"], m["approved"], m["claimed"], m["reimbursable"], m["reimbursed"], m["expired"], m["leads"], m["utilisation"], m["cost_per_lead"])
	}
	// A: 2000 allocated, 1200 approved, 1100 claimed, 1000 reimbursable but not paid yet: utilisation counts paid
	// money only (0 / 2000), and so does the cost per lead (0 / 30). (The close test pays one and sees it move.)
	// B: the Gold default once, nothing used.
	wantA := "Registered 2000.00 1200.00 1100.00 1000.00 0.00 0.00 30 0.0000 0.00"
	wantB := "Gold 10000.00 0.00 0.00 0.00 0.00 0.00 0 0.0000 <nil>"
	if got[aID] != wantA || got[bID] != wantB {
		t.Fatalf("report\n got A %q\nwant A %q\n got B %q\nwant B %q\n%s", got[aID], wantA, got[bID], wantB, r.raw)
	}
	if len(r.body["tiers"].([]any)) != 2 {
		t.Fatalf("tiers: %s", r.raw)
	}
}

// At quarter start a Schedule runs MDFQuarterStartWorkflow: every active partner
// of a tier with a quarterly amount gets it (once), with its expiry workflow.
func TestMDFQuarterStartAllocatesTierDefaults(t *testing.T) {
	f := newProgram(t)
	id, key := activePartner(t, f, "affiliate")
	tiers, _ := sys.store.ListTiers(context.Background(), uuid.MustParse(f.programID))
	if _, err := sys.store.Pool.Exec(context.Background(), "UPDATE partners SET tier_id = $1 WHERE id = $2", tiers[1].ID, id); err != nil { // Gold: 10000.00
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		run, err := sys.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("test-mdf-quarter-%s-%d", id, i), TaskQueue: workflows.TaskQueue},
			workflows.MDFQuarterStartWorkflow)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := run.Get(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	if b := balance(t, key); b.str("allocated") != "10000.00" {
		t.Fatalf("after two quarter starts: %s", b.raw)
	}
	wf := ids.MDFAllocation(uuid.MustParse(id), domain.Quarter(time.Now()))
	if _, err := sys.temporal.DescribeWorkflowExecution(ctx, wf, ""); err != nil {
		t.Fatalf("the allocation's expiry workflow: %v", err)
	}
	if _, err := sys.temporal.ScheduleClient().GetHandle(ctx, "mdf-quarter-start").Describe(ctx); err != nil {
		t.Fatalf("the mdf-quarter-start schedule: %v", err)
	}
}
