//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// The conversion pipeline is plain functions over the database: no HTTP, no
// caches (the zero Ingest reads everything itself), no Temporal unless flagged.
func TestIngestWithoutHTTP(t *testing.T) {
	f := affiliateProgram(t)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), 201).str("code")
	ctx := context.Background()
	programID := uuid.MustParse(f.programID)
	record := func(c activities.Conversion) (db.Conversion, []db.CommissionLine) {
		t.Helper()
		var row db.Conversion
		var lines []db.CommissionLine
		err := sys.store.InTx(ctx, func(q *db.Queries) error {
			var err error
			row, lines, err = (&activities.Ingest{}).Record(ctx, q, c)
			return err
		})
		if err != nil {
			t.Fatalf("record %s: %v", c.ExternalID, err)
		}
		return row, lines
	}
	at := time.Now().UTC().Add(-time.Hour)
	sale, lines := record(activities.Conversion{ProgramID: programID, ExternalID: "i-" + uuid.NewString()[:8], Kind: domain.KindSale,
		Amount: decimal.RequireFromString("150.00"), Currency: "EUR", OccurredAt: at, CouponCode: coupon, RequestHash: []byte("h1")})
	if sale.PartnerID.UUID.String() != f.partnerID || *sale.AttributionMethod != string(domain.ByCoupon) || len(lines) != 1 || lines[0].Amount.String() != "30.00" || lines[0].Status != "pending" {
		t.Fatalf("sale: %+v %+v", sale, lines)
	}
	_, lines = record(activities.Conversion{ProgramID: programID, ExternalID: "r-" + uuid.NewString()[:8], Kind: domain.KindRefund,
		Amount: decimal.RequireFromString("150.00"), Currency: "EUR", OccurredAt: at.Add(time.Minute), RefundOf: sale.ExternalID, RequestHash: []byte("h2")})
	if len(lines) != 1 || lines[0].Status != "void" {
		t.Fatalf("a full refund before any close voids the line: %+v", lines)
	}
	// An unknown program is bad input, not a failure.
	err := sys.store.InTx(ctx, func(q *db.Queries) error {
		_, _, err := (&activities.Ingest{}).Record(ctx, q, activities.Conversion{ProgramID: uuid.New(), ExternalID: "x", Kind: domain.KindSale, Currency: "EUR", OccurredAt: at})
		return err
	})
	if de, ok := domain.AsError(err); !ok || de.Code != "unknown_program" {
		t.Fatalf("unknown program: %v", err)
	}
}

// batchProgram is one affiliate program with what a random conversion can
// name: its partner (and the partner's address, for self-referrals), a coupon
// and a stored click.
type batchProgram struct {
	affiliateFixture
	id                   uuid.UUID
	partnerEmail, coupon string
	clickID              string
	clickedAt            time.Time
}

func newBatchProgram(t *testing.T) batchProgram {
	t.Helper()
	f := affiliateProgram(t)
	p := batchProgram{affiliateFixture: f, id: uuid.MustParse(f.programID)}
	p.partnerEmail = expect(t, do(t, call{method: "GET", path: "/v1/partners/" + f.partnerID, key: f.manager}), http.StatusOK).str("email")
	p.coupon = expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	resp, _ := click(t, f.link(t, "https://shop.example/", ""), "", browser)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	p.clickID = loc.Query().Get("po_click_id")
	id, err := domain.ParseClickID(p.clickID)
	if err != nil {
		t.Fatalf("click id %q: %v", p.clickID, err)
	}
	eventually(t, "the click stored", func() bool {
		cl, err := sys.store.GetClick(context.Background(), id)
		p.clickedAt = cl.ClickedAt
		return err == nil
	})
	return p
}

// answerIsStored checks a batch's answer for the conversion with external id ext
// against the rows stored: the answer is built from what the batch sent, and
// must read as a read of them does.
func answerIsStored(t *testing.T, seed int64, ext string, r activities.Recorded) {
	t.Helper()
	ctx := context.Background()
	stored, err := sys.store.GetConversion(ctx, r.Conversion.ID)
	if err != nil || stored.ExternalID != ext {
		t.Fatalf("seed %d: the answer for %s is not a stored conversion of its own: %+v %v", seed, ext, r.Conversion, err)
	}
	lines, err := sys.store.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "conversion", SourceID: stored.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(api.ConversionView{Conversion: r.Conversion, Lines: r.Lines})
	want, _ := json.Marshal(api.ConversionView{Conversion: stored, Lines: lines})
	if string(got) != string(want) {
		t.Fatalf("seed %d: the answer for %s is not the stored conversion:\nanswer: %s\nstored: %s", seed, ext, got, want)
	}
}

// spec is a random conversion in terms both programs understand.
type spec struct {
	ext, kind, amount, refundOf    string
	coupon, click, customer, order string // "", "valid", or a value to send as is
	selfReferral                   bool
	minute                         int
	nanos                          int // below the microsecond PostgreSQL keeps
}

func (p batchProgram) conversion(s spec) activities.Conversion {
	c := activities.Conversion{ProgramID: p.id, ExternalID: s.ext, Kind: s.kind, Amount: decimal.RequireFromString(s.amount), Currency: "EUR",
		OccurredAt:  p.clickedAt.Add(time.Hour + time.Duration(s.minute)*time.Second + time.Duration(s.nanos)), // as long after its click in both programs
		CustomerRef: s.customer, OrderID: s.order, RefundOf: s.refundOf, CouponCode: s.coupon, ClickID: s.click,
		RequestHash: []byte(s.ext + s.kind + s.amount + s.coupon + s.click + s.customer + s.order)}
	if s.coupon == "valid" {
		c.CouponCode = p.coupon
	}
	if s.click == "valid" {
		c.ClickID = p.clickID
	}
	if s.selfReferral {
		c.CustomerEmail = p.partnerEmail
	}
	return c
}

// alone records one conversion as the API does when a batch does not take it:
// an external id recorded before is a repeat (answered from the first), else Record.
func alone(ctx context.Context, in *activities.Ingest, c activities.Conversion) string {
	err := sys.store.InTx(ctx, func(q *db.Queries) error {
		if _, err := q.GetConversionByExternalID(ctx, db.GetConversionByExternalIDParams{ProgramID: c.ProgramID, ExternalID: c.ExternalID}); err == nil {
			return domain.Conflict("repeat", "recorded before")
		}
		_, _, err := in.Record(ctx, q, c)
		return err
	})
	return outcome(err)
}

func outcome(err error) string {
	if err == nil {
		return "recorded"
	}
	if de, ok := domain.AsError(err); ok {
		return de.Code
	}
	return "failed: " + err.Error()
}

// state is what a program's conversions became, by external id, with its own
// ids (partner, click, coupon) replaced by what they stand for.
func (p batchProgram) state(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := sys.store.Pool.Query(ctx, `
		SELECT c.external_id, c.kind, c.amount::text, coalesce(c.partner_id::text, ''), coalesce(c.attribution_method, ''),
		       coalesce(c.unattributed_reason, ''), c.fraud_flags::text, coalesce(c.review_status, ''), c.click_id IS NOT NULL,
		       coalesce((SELECT string_agg(l.kind || ' ' || l.amount::text || ' ' || l.status, ', ' ORDER BY l.kind, l.amount)
		                 FROM commission_lines l WHERE l.source_id = c.id OR l.source_id = c.refund_of AND l.kind = 'clawback'), '')
		FROM conversions c WHERE c.program_id = $1`, p.id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var ext, kind, amount, partner, method, reason, flags, review, lines string
		var clicked bool
		if err := rows.Scan(&ext, &kind, &amount, &partner, &method, &reason, &flags, &review, &clicked, &lines); err != nil {
			t.Fatal(err)
		}
		if partner == p.partnerID {
			partner = "the partner"
		}
		got[ext] = fmt.Sprintf("%s %s by %q (%s%s) flags %s review %q click %v lines [%s]", kind, amount, partner, method, reason, flags, review, clicked, lines)
	}
	bindings, err := sys.store.Pool.Query(ctx, `SELECT customer_ref, partner_id::text FROM customer_bindings WHERE program_id = $1`, p.id)
	if err != nil {
		t.Fatal(err)
	}
	for bindings.Next() {
		var ref, partner string
		if err := bindings.Scan(&ref, &partner); err != nil {
			t.Fatal(err)
		}
		got["binding "+ref] = fmt.Sprint(partner == p.partnerID)
	}
	return got
}

// A batch decides each conversion as Record alone would, in the order the
// batch carried them out (the ones it took, in order, then the ones it left to
// be recorded alone): attribution by coupon, click id and customer binding, a
// customer bound by the first sale and paid as a repeat after, duplicate
// orders and self-referrals flagged (left to Record, which starts their
// review), the volume tier counting the batch's own sales, repeats of an
// external id (in the batch or before it), refunds, and bad fields refused one
// by one. Random sequences, two programs: one recorded by batches, the other
// by Record alone in the same order; their conversions, lines and bindings
// must be the same.
func TestRecordBatchDecidesAsRecordAlone(t *testing.T) {
	ctx := context.Background()
	reviews, tiered, byClick, answered := 0, 0, 0, 0
	in := &activities.Ingest{TokenKey: []byte("unused"), StartReview: func(context.Context, *db.Queries, db.Conversion, db.Program) error { reviews++; return nil }}
	for round := range 3 {
		seed := time.Now().UnixNano()
		rng := rand.New(rand.NewSource(seed))
		batched, single := newBatchProgram(t), newBatchProgram(t)
		pick := func(options ...string) string { return options[rng.Intn(len(options))] }
		var specs []spec
		for i := range 60 {
			s := spec{ext: fmt.Sprintf("ext-%d", rng.Intn(45)), kind: pick("sale", "sale", "sale", "lead"), amount: fmt.Sprintf("%d.%02d", 10+rng.Intn(190), rng.Intn(100)),
				coupon: pick("", "valid", "valid", "NOPE1"), click: pick("", "", "valid", "not-a-click-id"), customer: pick("", "c1", "c2", "c3"),
				order: pick("", "", "", "", "o1", "o2"), selfReferral: rng.Intn(10) == 0, minute: i, nanos: rng.Intn(1000)}
			if rng.Intn(3) == 0 { // fewer decimals than the column keeps
				s.amount = pick(fmt.Sprint(10+rng.Intn(190)), fmt.Sprintf("%d.%d", 10+rng.Intn(190), rng.Intn(10)))
			}
			if rng.Intn(8) == 0 {
				s.kind, s.refundOf, s.amount, s.coupon, s.click = domain.KindRefund, fmt.Sprintf("ext-%d", rng.Intn(45)), fmt.Sprintf("%d.00", 1+rng.Intn(60)), "", ""
			}
			specs = append(specs, s)
		}
		// The batches first, two of 30 (the second sees the first in PostgreSQL;
		// a batch's own sales reach the volume tier from the 11th of a month).
		var order []int
		results := map[int]string{}
		parts := [][]int{{0, 30}, {30, 60}}
		var reqs [2][]activities.Conversion
		for p, part := range parts {
			for _, s := range specs[part[0]:part[1]] {
				reqs[p] = append(reqs[p], batched.conversion(s))
			}
		}
		// Round 0 records each batch with RecordBatch (two round trips); the
		// others as the API's writer does under load: the first batch's write
		// and the second's lookups in one round trip, after the first's commit.
		var next *activities.Batch
		var deferred []int
		for p, part := range parts {
			var out []activities.Recorded
			var err error
			switch {
			case round == 0:
				out, err = in.RecordBatch(ctx, sys.store, reqs[p])
			case p == 0:
				b := in.Read(ctx, sys.store, reqs[0])
				in.Decide(ctx, sys.store, b)
				next = in.Write(ctx, sys.store, b, reqs[1])
				if next == nil {
					t.Fatal("the second batch was not read with the first's write")
				}
				out, err = b.Out, b.Err
			default:
				in.Decide(ctx, sys.store, next)
				if in.Write(ctx, sys.store, next, nil) != nil {
					t.Fatal("a batch with no following one answers none")
				}
				out, err = next.Out, next.Err
			}
			if err != nil {
				t.Fatalf("seed %d: batch: %v", seed, err)
			}
			for j, r := range out {
				i := part[0] + j
				switch {
				case r.Deferred:
					deferred = append(deferred, i)
				case r.Err != nil:
					order, results[i] = append(order, i), outcome(r.Err)
				default:
					order, results[i] = append(order, i), "recorded"
					answerIsStored(t, seed, specs[i].ext, r)
					answered++
				}
			}
			// What a batch does not take is recorded alone after it (its handler
			// does so once answered); when the second batch was read with the
			// first's write, after both: either is an order one after another.
			if round == 0 || p == len(parts)-1 {
				for _, i := range deferred {
					order, results[i] = append(order, i), alone(ctx, in, batched.conversion(specs[i]))
				}
				deferred = nil
			}
		}
		for _, i := range order {
			if got := alone(ctx, in, single.conversion(specs[i])); got != results[i] {
				t.Fatalf("seed %d: conversion %d %+v: batch %s, alone %s", seed, i, specs[i], results[i], got)
			}
		}
		var n int
		if err := sys.store.Pool.QueryRow(ctx, `SELECT count(*) FROM commission_lines l JOIN conversions c ON c.id = l.source_id
			WHERE c.program_id = $1 AND l.amount = round(c.amount * 0.25, 2)`, batched.id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		tiered += n
		for _, v := range batched.state(t) {
			if strings.Contains(v, "(click_id)") {
				byClick++
			}
		}
		b, s := batched.state(t), single.state(t)
		if len(b) == 0 || len(b) != len(s) {
			t.Fatalf("seed %d: %d conversions and bindings batched, %d alone", seed, len(b), len(s))
		}
		for k, v := range s {
			if b[k] != v {
				t.Fatalf("seed %d round %d: %s\nbatched: %s\nalone:   %s", seed, round, k, b[k], v)
			}
		}
	}
	if reviews == 0 || tiered == 0 || byClick == 0 || answered == 0 {
		t.Fatalf("the sequences flagged %d conversions, paid %d at the volume tier, attributed %d by click id and answered %d from a batch: they test too little",
			reviews, tiered, byClick, answered)
	}
}

// A pipeline is one round trip and one transaction: each step reads its own
// result, and when a statement fails nothing of the pipeline is kept.
func TestPipelineIsAllOrNothing(t *testing.T) {
	f := affiliateProgram(t)
	ctx := context.Background()
	programID := uuid.MustParse(f.programID)
	conversions := func(ext ...string) db.CreateConversionsParams {
		var p db.CreateConversionsParams
		for _, e := range ext {
			p.Ids, p.ProgramIds, p.ExternalIds = append(p.Ids, uuid.Must(uuid.NewV7())), append(p.ProgramIds, programID), append(p.ExternalIds, e)
			p.RequestHashes, p.Kinds, p.Amounts, p.Currencies = append(p.RequestHashes, []byte(e)), append(p.Kinds, "sale"), append(p.Amounts, "10.5"), append(p.Currencies, "EUR")
			p.OrderIds, p.CustomerRefs, p.CustomerEmails, p.CustomerDomains = append(p.OrderIds, ""), append(p.CustomerRefs, ""), append(p.CustomerEmails, ""), append(p.CustomerDomains, "")
			p.OccurredAts, p.PartnerIds, p.LinkIds, p.ClickIds = append(p.OccurredAts, time.Now()), append(p.PartnerIds, uuid.Nil), append(p.LinkIds, uuid.Nil), append(p.ClickIds, uuid.Nil)
			p.AttributionMethods, p.UnattributedReasons = append(p.AttributionMethods, ""), append(p.UnattributedReasons, "test")
		}
		return p
	}
	run := uuid.NewString()[:8]
	var first, second []db.CreateConversionsRow
	var seen []db.RecordedExternalIDsRow
	var p db.Pipeline
	p.Begin()
	p.Add(func(q *db.Queries) (err error) {
		first, err = q.CreateConversions(ctx, conversions("p1-"+run, "p2-"+run))
		return
	})
	p.Add(func(q *db.Queries) (err error) {
		second, err = q.CreateConversions(ctx, conversions("p3-"+run))
		return
	})
	p.Add(func(q *db.Queries) (err error) {
		seen, err = q.RecordedExternalIDs(ctx, db.RecordedExternalIDsParams{ProgramIds: []uuid.UUID{programID}, ExternalIds: []string{"p1-" + run, "p3-" + run}})
		return
	})
	p.Commit()
	if err := sys.store.Send(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].CreatedAt.IsZero() || len(second) != 1 || len(seen) != 2 {
		t.Fatalf("each step reads its own result: %+v %+v %+v", first, second, seen)
	}
	p2, err := sys.store.GetConversion(ctx, first[1].ID)
	if err != nil || p2.ExternalID != "p2-"+run || p2.Amount.String() != "10.50" || p2.UnattributedReason == nil {
		t.Fatalf("the second row returned is p2's: %+v %v", p2, err)
	}

	var q db.Pipeline
	q.Begin()
	q.Add(func(q *db.Queries) error { _, err := q.CreateConversions(ctx, conversions("p4-"+run)); return err })
	q.Add(func(q *db.Queries) error {
		bad := conversions("p5-"+run, "p6-"+run)
		bad.Kinds[1] = "gift"
		_, err := q.CreateConversions(ctx, bad)
		return err
	})
	q.Commit()
	err = sys.store.Send(ctx, &q)
	if !strings.Contains(fmt.Sprint(err), "conversions_kind_check") {
		t.Fatalf("a refused row fails the pipeline: %v", err)
	}
	if n := countWhere(t, "conversions", "external_id IN ('p4-"+run+"', 'p5-"+run+"', 'p6-"+run+"')"); n != 0 {
		t.Fatalf("%d conversions of the failed pipeline kept", n)
	}
	// The connection left in a failed transaction is not handed out again:
	// every connection of the pool answers afterwards.
	for range 2 * sys.store.Pool.Config().MaxConns {
		if _, err := sys.store.GetProgram(ctx, programID); err != nil {
			t.Fatalf("after a failed pipeline: %v", err)
		}
	}
}

// tokenProgram is an affiliate program whose rules have no volume tiers (20% of
// sales, 5.00 a lead), with an active affiliate: its postbacks by click token
// need no lookups, so a batch of them is decided without reading (Speculate).
func tokenProgram(t *testing.T) batchProgram {
	t.Helper()
	f := affiliateProgramTiered(t, nil)
	p := batchProgram{affiliateFixture: f, id: uuid.MustParse(f.programID), clickedAt: time.Now().Add(-2 * time.Hour)}
	p.partnerEmail = expect(t, do(t, call{method: "GET", path: "/v1/partners/" + f.partnerID, key: f.manager}), http.StatusOK).str("email")
	return p
}

// A batch decided without reading (postbacks by click token) records what
// Record alone would, in the order the batch carried them out: repeats of an
// external id (in the batch, in an earlier batch, or with another body) are
// not inserted, nor are their lines, and are left to be recorded alone; so are
// refunds and self-referrals (flagged). Random sequences, two programs, as
// TestRecordBatchDecidesAsRecordAlone; the batches go two by two into one
// transaction (Merge), as the API's writer writes the postbacks that arrived
// while a batch was in flight.
func TestSpeculativeBatchDecidesAsRecordAlone(t *testing.T) {
	ctx := context.Background()
	key := []byte("token-key")
	in := &activities.Ingest{TokenKey: key, StartReview: func(context.Context, *db.Queries, db.Conversion, db.Program) error { return nil }}
	repeats, answered := 0, 0
	for range 3 {
		seed := time.Now().UnixNano()
		rng := rand.New(rand.NewSource(seed))
		batched, single := tokenProgram(t), tokenProgram(t)
		type tspec struct {
			ext, kind, amount, token, refundOf string
			selfReferral                       bool
			minute, nanos                      int
		}
		conversion := func(p batchProgram, s tspec) activities.Conversion {
			c := activities.Conversion{ProgramID: p.id, ExternalID: s.ext, Kind: s.kind, Amount: decimal.RequireFromString(s.amount), Currency: "EUR",
				OccurredAt: p.clickedAt.Add(time.Hour + time.Duration(s.minute)*time.Second + time.Duration(s.nanos)), RefundOf: s.refundOf,
				RequestHash: []byte(s.ext + s.kind + s.amount + s.token)}
			switch s.token {
			case "valid":
				c.ClickToken = domain.ClickToken{ClickID: uuid.Must(uuid.NewV7()), LinkID: uuid.Must(uuid.NewV7()), PartnerID: uuid.MustParse(p.partnerID),
					ProgramID: p.id, ClickedAt: p.clickedAt}.Sign(key)
			case "forged":
				c.ClickToken = "v1.forged"
			}
			if s.selfReferral {
				c.CustomerEmail = p.partnerEmail
			}
			return c
		}
		pick := func(options ...string) string { return options[rng.Intn(len(options))] }
		var specs []tspec
		for i := range 60 {
			s := tspec{ext: fmt.Sprintf("ext-%d", rng.Intn(40)), kind: pick("sale", "sale", "sale", "lead"), amount: fmt.Sprintf("%d.%02d", 10+rng.Intn(190), rng.Intn(100)),
				token: pick("valid", "valid", "valid", "", "forged"), selfReferral: rng.Intn(10) == 0, minute: i, nanos: rng.Intn(1000)}
			if rng.Intn(3) == 0 {
				s.amount = fmt.Sprint(10 + rng.Intn(190))
			}
			if rng.Intn(10) == 0 {
				s.kind, s.refundOf, s.amount, s.token = domain.KindRefund, fmt.Sprintf("ext-%d", rng.Intn(40)), fmt.Sprintf("%d.00", 1+rng.Intn(60)), ""
			}
			specs = append(specs, s)
		}
		// Four batches of 15, merged two by two: a merged pair is one transaction.
		var order, deferred []int
		results := map[int]string{}
		for pair := 0; pair < 60; pair += 30 {
			var merged *activities.Batch
			for part := pair; part < pair+30; part += 15 {
				var reqs []activities.Conversion
				for _, s := range specs[part : part+15] {
					reqs = append(reqs, conversion(batched, s))
				}
				b := in.Speculate(ctx, sys.store, reqs)
				if b == nil {
					t.Fatalf("seed %d: postbacks by click token need no lookups, yet the batch was not decided", seed)
				}
				if merged == nil {
					merged = b
				} else {
					merged.Merge(b)
				}
			}
			if in.Write(ctx, sys.store, merged, nil) != nil || merged.Err != nil {
				t.Fatalf("seed %d: write: %v", seed, merged.Err)
			}
			for j, r := range merged.Out {
				i := pair + j
				switch {
				case r.Deferred:
					deferred = append(deferred, i)
				case r.Err != nil:
					order, results[i] = append(order, i), outcome(r.Err)
				default:
					order, results[i] = append(order, i), "recorded"
					answerIsStored(t, seed, specs[i].ext, r)
					answered++
				}
			}
			for _, i := range deferred {
				order, results[i] = append(order, i), alone(ctx, in, conversion(batched, specs[i]))
				if results[i] == "repeat" {
					repeats++
				}
			}
			deferred = nil
		}
		for _, i := range order {
			if got := alone(ctx, in, conversion(single, specs[i])); got != results[i] {
				t.Fatalf("seed %d: conversion %d %+v: batch %s, alone %s", seed, i, specs[i], results[i], got)
			}
		}
		b, s := batched.state(t), single.state(t)
		if len(b) == 0 || len(b) != len(s) {
			t.Fatalf("seed %d: %d conversions batched, %d alone", seed, len(b), len(s))
		}
		for k, v := range s {
			if b[k] != v {
				t.Fatalf("seed %d: %s\nbatched: %s\nalone:   %s", seed, k, b[k], v)
			}
		}
		if n := countWhere(t, "commission_lines", "program_id = '"+batched.id.String()+"' AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.id = source_id)"); n != 0 {
			t.Fatalf("seed %d: %d lines of conversions not inserted", seed, n)
		}
	}
	if repeats == 0 || answered == 0 {
		t.Fatalf("the sequences repeated %d external ids and answered %d from a batch: they test too little", repeats, answered)
	}

	// What needs a lookup is read first: an order id, or a rule with volume tiers.
	p := tokenProgram(t)
	sale := activities.Conversion{ProgramID: p.id, ExternalID: "o", Kind: "sale", Amount: decimal.RequireFromString("10"), Currency: "EUR", OccurredAt: time.Now(), OrderID: "o-1"}
	if in.Speculate(ctx, sys.store, []activities.Conversion{sale}) != nil {
		t.Fatal("a postback with an order id was decided without reading whether the order was seen")
	}
	tiered := newBatchProgram(t)
	sale = activities.Conversion{ProgramID: tiered.id, ExternalID: "t", Kind: "sale", Amount: decimal.RequireFromString("10"), Currency: "EUR", OccurredAt: time.Now(),
		ClickToken: domain.ClickToken{ClickID: uuid.Must(uuid.NewV7()), LinkID: uuid.Must(uuid.NewV7()), PartnerID: uuid.MustParse(tiered.partnerID),
			ProgramID: tiered.id, ClickedAt: time.Now().Add(-time.Hour)}.Sign(key)}
	if in.Speculate(ctx, sys.store, []activities.Conversion{sale}) != nil {
		t.Fatal("a sale under a rule with volume tiers was decided without reading the month's sales")
	}
}

// A conversion or a commission line names a partner of its own program: the
// composite foreign key refuses another program's partner, whatever writes it.
func TestMoneyRowsNameAPartnerOfTheirProgram(t *testing.T) {
	ctx := context.Background()
	a, b := tokenProgram(t), tokenProgram(t)
	other := uuid.MustParse(a.partnerID)
	conv := db.CreateConversionsParams{Ids: []uuid.UUID{uuid.Must(uuid.NewV7())}, ProgramIds: []uuid.UUID{b.id}, ExternalIds: []string{"cross"},
		RequestHashes: [][]byte{{1}}, Kinds: []string{"sale"}, Amounts: []string{"10.00"}, Currencies: []string{"EUR"}, OrderIds: []string{""},
		CustomerRefs: []string{""}, CustomerEmails: []string{""}, CustomerDomains: []string{""}, OccurredAts: []time.Time{time.Now()},
		PartnerIds: []uuid.UUID{other}, LinkIds: []uuid.UUID{uuid.Nil}, ClickIds: []uuid.UUID{uuid.Nil}, AttributionMethods: []string{"click_token"},
		UnattributedReasons: []string{""}}
	if _, err := sys.store.CreateConversions(ctx, conv); !strings.Contains(fmt.Sprint(err), "conversions_partner_fkey") {
		t.Fatalf("a conversion of program B earned by program A's partner: %v", err)
	}
	hold := time.Now()
	line := db.CreateLineParams{ID: uuid.Must(uuid.NewV7()), ProgramID: b.id, PartnerID: other, Kind: "adjustment", SourceID: uuid.Must(uuid.NewV7()),
		Amount: domain.NewNumeric(decimal.RequireFromString("1.00")), Currency: "EUR", Status: "pending", OccurredAt: time.Now(),
		DedupeKey: "test/" + uuid.NewString(), HoldUntil: &hold}
	if _, err := sys.store.CreateLine(ctx, line); !strings.Contains(fmt.Sprint(err), "commission_lines_partner_fkey") {
		t.Fatalf("a line of program B for program A's partner: %v", err)
	}
	line.ProgramID = a.id // its own program: taken
	if _, err := sys.store.CreateLine(ctx, line); err != nil {
		t.Fatalf("a line for a partner of its program: %v", err)
	}
}
