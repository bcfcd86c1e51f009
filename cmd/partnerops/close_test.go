//go:build e2e

package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
	"github.com/partnerops/partnerops/workflows"
)

// line books a money line as the engines do (commission, deal margin, MDF,
// clawback), payable, at the given time.
func line(t *testing.T, programID, partnerID, kind, amount string, at time.Time, status string) {
	t.Helper()
	id := uuid.New()
	hold := at.AddDate(0, 0, 30) // the holding period ends 30 days after the event
	_, err := sys.store.Pool.Exec(context.Background(), `INSERT INTO commission_lines
		(id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key, hold_until)
		VALUES ($1, $2, $3, $4, 'test', $1, $5, 'EUR', $6, 'fixture', $7, $8, $9)`, id, programID, partnerID, kind, amount, status, at, id.String(), hold)
	if err != nil {
		t.Fatal(err)
	}
}

type closeFixture struct {
	fixture
	a, b, c, d string // partners
}

// closeProgram: four partners, payouts over the HTTP provider, minimum 50.00.
func closeProgram(t *testing.T, provider string) closeFixture {
	t.Helper()
	f := closeFixture{fixture: newProgram(t)}
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/payouts", key: f.admin,
		body: map[string]any{"payout_minimum": "50.00", "payout_provider": provider}}), http.StatusOK)
	f.a, f.b, f.c, f.d = apply(t, f.fixture, "affiliate"), apply(t, f.fixture, "affiliate"), apply(t, f.fixture, "affiliate"), apply(t, f.fixture, "affiliate")
	for _, p := range []string{f.a, f.b, f.c, f.d} {
		payoutDetails(t, p)
	}
	return f
}

func (f closeFixture) start(t *testing.T, month string, want int) response {
	t.Helper()
	return expect(t, do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": month}}), want)
}

func waitClose(t *testing.T, key, id, status string) response {
	t.Helper()
	var r response
	deadline := time.Now().Add(40 * time.Second)
	for {
		r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id, key: key}), http.StatusOK)
		if r.str("status") == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("close %s is %s, not %s: %s", id, r.str("status"), status, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func statementsOf(r response) map[string]string {
	out := map[string]string{}
	for _, s := range r.body["statements"].([]any) {
		m := s.(map[string]any)
		out[m["partner_id"].(string)] = fmt.Sprintf("in=%v com=%v deal=%v mdf=%v claw=%v adj=%v total=%v pay=%v out=%v",
			m["carried_in"], m["commissions"], m["deal_margins"], m["mdf"], m["clawbacks"], m["adjustments"], m["total"], m["payable"], m["carried_out"])
	}
	return out
}

// The close's arithmetic against a hand-computed fixture, to the cent, over two
// months with carry-overs, an adjustment, payouts and a clawback after payout.
func TestCloseArithmeticAndPayouts(t *testing.T) {
	f := closeProgram(t, "http")
	// Two months that have ended, whatever today is.
	thisMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	m1, m2 := thisMonth.AddDate(0, -3, 0), thisMonth.AddDate(0, -2, 0)
	oct, nov := m1.AddDate(0, 0, 14).Add(12*time.Hour), m2.AddDate(0, 0, 2).Add(12*time.Hour)
	line(t, f.programID, f.a, "commission", "40.00", oct.AddDate(0, 0, -14), "pending") // pending, but its hold has passed: frozen as payable
	line(t, f.programID, f.a, "commission", "25.50", oct, "payable")
	line(t, f.programID, f.a, "deal_margin", "100.00", oct, "payable")
	line(t, f.programID, f.a, "clawback", "-5.25", oct, "payable")
	line(t, f.programID, f.a, "commission", "999.00", oct, "held") // under fraud review: not frozen
	line(t, f.programID, f.b, "commission", "30.00", oct, "payable")
	line(t, f.programID, f.c, "mdf_reimbursement", "250.00", oct, "payable")
	line(t, f.programID, f.c, "clawback", "-300.00", oct, "payable")
	line(t, f.programID, f.d, "commission", "10.00", nov, "payable") // late: the next close

	r := f.start(t, m1.Format("2006-01"), http.StatusCreated)
	id := r.str("id")
	if again := f.start(t, m1.Format("2006-01"), http.StatusOK); again.str("id") != id {
		t.Fatalf("a second close for the month: %s", again.raw)
	}
	r = waitClose(t, f.finance, id, "review")
	want := map[string]string{
		f.a: "in=0.00 com=65.50 deal=100.00 mdf=0.00 claw=-5.25 adj=0.00 total=160.25 pay=160.25 out=0.00",
		f.b: "in=0.00 com=30.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=30.00 pay=0.00 out=30.00",       // under the minimum: carried
		f.c: "in=0.00 com=0.00 deal=0.00 mdf=250.00 claw=-300.00 adj=0.00 total=-50.00 pay=0.00 out=-50.00", // owes: carried
	}
	got := statementsOf(r)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("first month %s:\n got %s\nwant %s", p[:8], got[p], w)
		}
	}
	if len(got) != 3 {
		t.Fatalf("first month statements: %v", got)
	}

	// Review: finance adds a bonus for B (now over the minimum) and signs off.
	r = expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/adjustments", key: f.finance, body: map[string]any{"partner_id": f.b, "amount": "25.00", "reason": "launch bonus"}}), http.StatusCreated)
	if got := statementsOf(r)[f.b]; got != "in=0.00 com=30.00 deal=0.00 mdf=0.00 claw=0.00 adj=25.00 total=55.00 pay=55.00 out=0.00" {
		t.Fatalf("after the adjustment: %s", got)
	}
	if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
		t.Fatalf("recompute in review: %s", rc.raw)
	}
	transfersBefore := len(sys.pay.Transfers())
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusConflict)
	r = waitClose(t, f.finance, id, "completed")
	paid := map[string]string{}
	for _, p := range r.body["payouts"].([]any) {
		m := p.(map[string]any)
		paid[m["partner_id"].(string)] = m["amount"].(string) + " " + m["status"].(string)
	}
	if len(paid) != 2 || paid[f.a] != "160.25 paid" || paid[f.b] != "55.00 paid" {
		t.Fatalf("payouts: %v", paid)
	}
	if n := len(sys.pay.Transfers()) - transfersBefore; n != 2 {
		t.Fatalf("%d transfers at the provider", n)
	}
	var paidLines int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM commission_lines WHERE partner_id = ANY($1) AND status = 'paid'", []string{f.a, f.b}).Scan(&paidLines)
	if paidLines != 6 {
		t.Fatalf("%d lines marked paid, want 6 (A's 4, B's commission and adjustment)", paidLines)
	}
	if rc := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/recompute", key: f.finance}), http.StatusOK); rc.body["matches"] != true {
		t.Fatalf("recompute after the close: %s", rc.raw)
	}

	// November: A was refunded after payout (a clawback), C earns again, D's late line arrives.
	line(t, f.programID, f.a, "clawback", "-20.00", nov, "payable")
	line(t, f.programID, f.c, "commission", "80.00", nov, "payable")
	nr := do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": "2026-11-"}})
	if nr.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad month: %d", nr.status)
	}
	cur := do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: map[string]any{"program_id": f.programID, "month": thisMonth.Format("2006-01")}})
	if code, _ := cur.errCode(); cur.status != http.StatusUnprocessableEntity || code != "not_ended" {
		t.Fatalf("closing the current month: %d %s", cur.status, cur.raw)
	}
	id2 := f.start(t, m2.Format("2006-01"), http.StatusCreated).str("id")
	got = statementsOf(waitClose(t, f.finance, id2, "review"))
	want = map[string]string{
		f.a: "in=0.00 com=0.00 deal=0.00 mdf=0.00 claw=-20.00 adj=0.00 total=-20.00 pay=0.00 out=-20.00",
		f.c: "in=-50.00 com=80.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=30.00 pay=0.00 out=30.00",
		f.d: "in=0.00 com=10.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=10.00 pay=0.00 out=10.00",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("second month %s:\n got %s\nwant %s", p[:8], got[p], w)
		}
	}
}

// Two months of lines in a month that has ended, for the crash tests: one
// partner, 120.00 payable, HTTP provider.
func oneToPay(t *testing.T) (closeFixture, string) {
	f := closeProgram(t, "http")
	line(t, f.programID, f.a, "commission", "120.00", time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC), "payable")
	id := f.start(t, "2026-09", http.StatusCreated).str("id")
	waitClose(t, f.finance, id, "review")
	return f, id
}

func transfersFor(partnerAmount string, before int) []fakepay.Transfer {
	var out []fakepay.Transfer
	for _, tr := range sys.pay.Transfers()[before:] {
		if tr.Amount == partnerAmount {
			out = append(out, tr)
		}
	}
	return out
}

func payoutOf(t *testing.T, f closeFixture, closeID string) map[string]any {
	r := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + closeID, key: f.finance}), http.StatusOK)
	ps := r.body["payouts"].([]any)
	if len(ps) != 1 {
		t.Fatalf("payouts: %s", r.raw)
	}
	return ps[0].(map[string]any)
}

// The provider takes the transfer but answers after our timeout: the retried
// call carries the same Idempotency-Key, so there is one transfer and one paid payout.
func TestPayoutProviderTimeoutPaysOnce(t *testing.T) {
	f, id := oneToPay(t)
	before := len(sys.pay.Transfers())
	sys.pay.SetMode(fakepay.Mode{Delay: 3 * time.Second, DelayOnce: true}) // the client gives up after 2 s
	defer sys.pay.SetMode(fakepay.Mode{})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	waitClose(t, f.finance, id, "completed")
	if trs := transfersFor("120.00", before); len(trs) != 1 {
		t.Fatalf("%d transfers: %+v", len(trs), trs)
	}
	if p := payoutOf(t, f, id); p["status"] != "paid" {
		t.Fatalf("payout %v", p)
	}
}

// Kill the worker in the middle of a payout — after the provider received the
// call, before the result was recorded — and restart it: one transfer, one paid payout.
func TestPayoutSurvivesAWorkerCrash(t *testing.T) {
	f, id := oneToPay(t)
	before := len(sys.pay.Transfers())
	sys.pay.SetMode(fakepay.Mode{Delay: 5 * time.Second, DelayOnce: true})
	defer sys.pay.SetMode(fakepay.Mode{})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	eventually(t, "the provider to receive the transfer", func() bool { return len(transfersFor("120.00", before)) == 1 })
	sys.worker.Stop() // the activity is cut off mid-call; its result is never recorded as a success
	w, err := startWorker(sys.temporal, sys.workerStore, sys.logger, sys.payments)
	if err != nil {
		t.Fatal(err)
	}
	sys.worker = w
	waitClose(t, f.finance, id, "completed")
	if trs := transfersFor("120.00", before); len(trs) != 1 {
		t.Fatalf("%d transfers after the crash: %+v", len(trs), trs)
	}
	if p := payoutOf(t, f, id); p["status"] != "paid" {
		t.Fatalf("payout %v", p)
	}
}

// The confirmation arrives twice: still one paid payout, lines paid once.
func TestPayoutCallbackTwice(t *testing.T) {
	f, id := oneToPay(t)
	before := len(sys.pay.Transfers())
	sys.pay.SetMode(fakepay.Mode{DuplicateCallbacks: true, CallbackDelay: 200 * time.Millisecond})
	defer sys.pay.SetMode(fakepay.Mode{})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	waitClose(t, f.finance, id, "completed")
	time.Sleep(500 * time.Millisecond) // let the second confirmation land
	p := payoutOf(t, f, id)
	if trs := transfersFor("120.00", before); len(trs) != 1 || p["status"] != "paid" || p["attempts"] != float64(1) {
		t.Fatalf("transfers %d, payout %v", len(trs), p)
	}
	// A forged confirmation is refused.
	r := do(t, call{method: "POST", path: "/v1/webhooks/payments", body: map[string]any{"transfer_id": "tr_x", "reference": p["id"], "status": "failed"},
		headers: map[string]string{"X-Partnerops-Signature": "t=1,v1=00"}})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %d", r.status)
	}
}

// A declined payout is listed as failed and retried by finance as a new attempt.
func TestFailedPayoutIsRetried(t *testing.T) {
	f, id := oneToPay(t)
	sys.pay.SetMode(fakepay.Mode{Fail: true})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	r := waitClose(t, f.finance, id, "completed")
	p := payoutOf(t, f, id)
	if p["status"] != "failed" || p["last_error"] == nil {
		t.Fatalf("declined payout: %v (%s)", p, r.raw)
	}
	sys.pay.SetMode(fakepay.Mode{})
	pid := p["id"].(string)
	if r := do(t, call{method: "POST", path: "/v1/payouts/" + pid + "/retry", key: f.manager}); r.status != http.StatusForbidden {
		t.Fatalf("a manager retrying: %d", r.status)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/payouts/" + pid + "/retry", key: f.finance}), http.StatusAccepted)
	eventually(t, "the retried payout to be paid", func() bool { return payoutOf(t, f, id)["status"] == "paid" })
	if r := do(t, call{method: "POST", path: "/v1/payouts/" + pid + "/retry", key: f.finance}); r.status != http.StatusConflict {
		t.Fatalf("retrying a paid payout: %d", r.status)
	}
	checkLedger(t) // the failed attempt's entry was reversed, the paid one stands
}

// The file provider writes the batch for the bank portal; finance marks it paid.
func TestFilePayouts(t *testing.T) {
	f := closeProgram(t, "file")
	line(t, f.programID, f.a, "commission", "75.00", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), "payable")
	line(t, f.programID, f.b, "commission", "64.10", time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC), "payable")
	id := f.start(t, "2026-08", http.StatusCreated).str("id")
	waitClose(t, f.finance, id, "review")
	csvResp := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id + "/statements.csv", key: f.finance}), http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(string(csvResp.raw))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "partner_id" {
		t.Fatalf("statements CSV: %v %q", err, csvResp.raw)
	}
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	var payouts []any
	eventually(t, "payouts submitted", func() bool {
		r := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id, key: f.finance}), http.StatusOK)
		payouts = r.body["payouts"].([]any)
		for _, p := range payouts {
			if m := p.(map[string]any); m["status"] != "submitted" || m["provider_ref"] == nil {
				return false
			}
		}
		return len(payouts) == 2
	})
	batch, err := os.ReadFile(payouts[0].(map[string]any)["provider_ref"].(string))
	if err != nil || !strings.Contains(string(batch), "75.00,EUR") || !strings.Contains(string(batch), "64.10,EUR") {
		t.Fatalf("batch file: %v %s", err, batch)
	}
	for _, p := range payouts {
		m := expect(t, do(t, call{method: "POST", path: "/v1/payouts/" + p.(map[string]any)["id"].(string) + "/mark-paid", key: f.finance, body: map[string]any{}}), http.StatusOK)
		if m.str("status") != "paid" {
			t.Fatalf("mark-paid: %s", m.raw)
		}
	}
	waitClose(t, f.finance, id, "completed")
}

func TestCloseAuthorizationAndBadInput(t *testing.T) {
	f := closeProgram(t, "http")
	line(t, f.programID, f.a, "commission", "80.00", time.Date(2026, 7, 5, 0, 0, 0, 0, time.UTC), "payable")
	for _, key := range []string{f.manager, f.admin} {
		if r := do(t, call{method: "POST", path: "/v1/closes", key: key, body: map[string]any{"program_id": f.programID, "month": "2026-07"}}); r.status != http.StatusForbidden {
			t.Errorf("starting a close as non-finance: %d", r.status)
		}
	}
	for _, body := range []map[string]any{
		{"program_id": f.programID, "month": "July"},
		{"program_id": f.programID, "month": "2099-01"},
		{"program_id": uuid.NewString(), "month": "2026-07"},
		{"program_id": f.programID},
	} {
		if r := do(t, call{method: "POST", path: "/v1/closes", key: f.finance, body: body}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("close %v: %d %s", body, r.status, r.raw)
		}
	}
	id := f.start(t, "2026-07", http.StatusCreated).str("id")
	waitClose(t, f.finance, id, "review")
	for _, body := range []map[string]any{{"partner_id": f.a, "amount": "0", "reason": "x"}, {"partner_id": f.a, "amount": "1.001", "reason": "x"},
		{"partner_id": f.a, "amount": "1.00"}, {"partner_id": uuid.NewString(), "amount": "1.00", "reason": "x"}} {
		if r := do(t, call{method: "POST", path: "/v1/closes/" + id + "/adjustments", key: f.finance, body: body}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("adjustment %v: %d %s", body, r.status, r.raw)
		}
	}
	// A partner reads only its own statements.
	keyA := newKey(t, "partner", uuid.MustParse(f.a))
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + id + "/approve", key: f.finance, body: map[string]any{}}), http.StatusOK)
	waitClose(t, f.finance, id, "completed")
	own := expect(t, do(t, call{method: "GET", path: "/v1/statements?month=2026-07&partner_id=" + f.b, key: keyA}), http.StatusOK)
	data := own.body["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["partner_id"] != f.a || len(data[0].(map[string]any)["line_items"].([]any)) != 1 {
		t.Fatalf("A's statements: %s", own.raw)
	}
	keyB := newKey(t, "partner", uuid.MustParse(f.b))
	if r := expect(t, do(t, call{method: "GET", path: "/v1/statements?month=2026-07", key: keyB}), http.StatusOK); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("B sees: %s", r.raw)
	}
	for _, c := range []call{{method: "GET", path: "/v1/closes/" + id}, {method: "POST", path: "/v1/closes/" + id + "/approve", body: map[string]any{}}} {
		c.key = keyA
		if r := do(t, c); r.status != http.StatusForbidden {
			t.Errorf("partner %s %s: %d", c.method, c.path, r.status)
		}
	}
	if r := do(t, call{method: "POST", path: "/v1/closes/" + id + "/adjustments", key: f.finance, body: map[string]any{"partner_id": f.a, "amount": "5.00", "reason": "late"}}); r.status != http.StatusConflict {
		t.Fatalf("adjusting a completed close: %d", r.status)
	}
}

// The daily Schedule's workflow starts the close of programs whose close day it
// is, for the previous month — once, however often it runs.
func TestScheduledClose(t *testing.T) {
	f := closeProgram(t, "http")
	ctx := context.Background()
	today := time.Now().UTC()
	if today.Day() > 28 {
		t.Log("close days run from 1 to 28; on this date the scheduler has nothing to start")
	}
	if _, err := sys.store.Pool.Exec(ctx, "UPDATE programs SET close_day = $2 WHERE id = $1", f.programID, min(today.Day(), 28)); err != nil {
		t.Fatal(err)
	}
	prev := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	line(t, f.programID, f.a, "commission", "90.00", prev.AddDate(0, 0, 3), "payable")
	for i := range 2 {
		run, err := sys.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("test-close-scheduler-%s-%d", f.programID, i), TaskQueue: workflows.TaskQueue},
			workflows.CloseSchedulerWorkflow)
		if err != nil {
			t.Fatal(err)
		}
		var started int
		if err := run.Get(ctx, &started); err != nil {
			t.Fatal(err)
		}
		if today.Day() <= 28 && i == 1 && started != 0 {
			t.Fatalf("the second run started %d closes again", started)
		}
	}
	if today.Day() > 28 {
		return
	}
	var id string
	if err := sys.store.Pool.QueryRow(ctx, "SELECT id FROM closes WHERE program_id = $1 AND month = $2", f.programID, prev).Scan(&id); err != nil {
		t.Fatalf("no close for %s: %v", prev.Format("2006-01"), err)
	}
	r := waitClose(t, f.finance, id, "review")
	if got := statementsOf(r)[f.a]; !strings.Contains(got, "total=90.00 pay=90.00") {
		t.Fatalf("scheduled close: %s", got)
	}
	if _, err := sys.temporal.ScheduleClient().GetHandle(ctx, "monthly-close").Describe(ctx); err != nil {
		t.Fatalf("the monthly-close schedule: %v", err)
	}
}

// payoutDetails gives a partner somewhere to be paid (as PUT /v1/me/payout-details
// does; these partners have no key of their own).
func payoutDetails(t *testing.T, partnerID string) {
	t.Helper()
	if _, err := sys.store.Pool.Exec(context.Background(), `INSERT INTO payout_details (id, partner_id, version, method, destination, created_by, confirmed_by, confirmed_at)
		VALUES (gen_random_uuid(), $1::uuid, 1, 'provider', 'acct_test' || substr(md5($1::uuid::text), 1, 12), 'test', 'first details', now())`, partnerID); err != nil {
		t.Fatal(err)
	}
}
