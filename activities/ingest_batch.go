package activities

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// Recorded is what became of one conversion of a batch.
type Recorded struct {
	Conversion db.Conversion
	Lines      []db.CommissionLine
	// Err is the conversion's own fault (a bad field, an unknown program):
	// nothing of it was written.
	Err error
	// Deferred: the batch did not take it; record it alone with Record after the
	// batch commits. Refunds (they lock the lines they take back), an external
	// id recorded before or twice in the batch (a retry or a conflict, answered
	// from the first), and flagged conversions (a review workflow starts with them).
	Deferred bool
}

// RecordBatch ingests many conversions with the same decisions as Record,
// conversion by conversion in order, in two round trips to PostgreSQL: one
// pipeline reads every lookup the batch needs, one writes its conversions,
// customer bindings and lines (one INSERT per table, one transaction); in one
// when the batch needs no lookups (Speculate). A later conversion sees what an
// earlier one of the batch did (a customer bound, an order seen, a month's
// sales counted).
//
// An error returned is the batch's (the database's): nothing was written, and
// each conversion is to be recorded alone.
func (g *Ingest) RecordBatch(ctx context.Context, store *db.Store, reqs []Conversion) ([]Recorded, error) {
	b := g.Speculate(ctx, store, reqs)
	if b == nil {
		b = g.Read(ctx, store, reqs)
		g.Decide(ctx, store, b)
	}
	g.Write(ctx, store, b, nil)
	return b.Out, b.Err
}

// Batch is a batch of conversions on its way: decided without reading
// (Speculate), or read (Read, or Write of the batch before it) and decided
// (Decide); then written (Write). A writer that always has the next batch
// waiting writes one and reads the next in one round trip: the next batch's
// lookups run after the first's commit, on the same connection, so it is
// decided exactly as if the two had been recorded one after the other.
type Batch struct {
	reqs      []Conversion
	look      batchLook
	decisions []decision
	decided   []int
	// Out is what became of each conversion, once written.
	Out []Recorded
	// Err is the batch's (the database's): nothing of it was written, and each
	// of its conversions is to be recorded alone (Out says Deferred).
	Err error
}

// errNeedsRead stops a speculative decision: a conversion asked for a lookup.
var errNeedsRead = errors.New("activities: the batch needs its lookups read")

// errCountAlone defers a conversion to be recorded alone: it counts a month's
// sales (volume tiers), which only a lock in its own transaction keeps exact
// across replicas.
var errCountAlone = errors.New("activities: a month's sales are counted alone")

// Speculate decides a batch without reading anything first, when none of its
// conversions needs a lookup: attributed by click token or not at all, with no
// order id, customer, coupon, click id or customer domain, under rules without
// volume tiers. Such a decision depends on nothing PostgreSQL holds but
// whether the external id was recorded before, which the insert finds out (a
// repeat is not inserted, and is recorded alone: answered from the first). The
// batch is then written in one round trip. It returns nil when a conversion
// needs a lookup: the batch is to be Read.
func (g *Ingest) Speculate(ctx context.Context, store *db.Store, reqs []Conversion) *Batch {
	b := &Batch{reqs: reqs, look: noLookups{}, Out: make([]Recorded, len(reqs))}
	taken := make(map[programKey]bool, len(reqs))
	for i, c := range reqs {
		if c.ClickID != "" || c.CouponCode != "" || c.CustomerRef != "" || c.OrderID != "" || c.CustomerDomain != "" {
			return nil
		}
		k := programKey{c.ProgramID, c.ExternalID}
		if Alone(c) || taken[k] {
			b.Out[i].Deferred = true
		}
		taken[k] = true
	}
	g.Decide(ctx, store, b)
	if errors.Is(b.Err, errNeedsRead) {
		return nil
	}
	return b
}

// noLookups is a speculative batch's: every lookup stops the speculation.
type noLookups struct{}

func (noLookups) protectedDeal(context.Context, uuid.UUID, string, time.Time) (uuid.UUID, bool, error) {
	return uuid.Nil, false, errNeedsRead
}
func (noLookups) click(context.Context, uuid.UUID) (db.Click, bool, error) {
	return db.Click{}, false, errNeedsRead
}
func (noLookups) coupon(context.Context, uuid.UUID, string) (db.Coupon, bool, error) {
	return db.Coupon{}, false, errNeedsRead
}
func (noLookups) binding(context.Context, uuid.UUID, string) (db.CustomerBinding, bool, error) {
	return db.CustomerBinding{}, false, errNeedsRead
}
func (noLookups) monthSales(context.Context, uuid.UUID, time.Time) (int64, error) {
	return 0, errNeedsRead
}
func (noLookups) orderSeen(context.Context, uuid.UUID, string) (bool, error) {
	return false, errNeedsRead
}
func (noLookups) apply(decision) {} // nothing a later conversion could look up

// Merge appends o, decided, to b, decided, to be written with it in one
// transaction: o's conversions follow b's in Out.
func (b *Batch) Merge(o *Batch) {
	n := len(b.reqs)
	b.reqs = append(b.reqs, o.reqs...)
	b.Out = append(b.Out, o.Out...)
	b.decisions = append(b.decisions, o.decisions...)
	for _, i := range o.decided {
		b.decided = append(b.decided, n+i)
	}
}

// Read reads the lookups of a batch in one round trip.
func (g *Ingest) Read(ctx context.Context, store *db.Store, reqs []Conversion) *Batch {
	var p db.Pipeline
	r := queueRead(ctx, &p, reqs)
	err := store.Send(ctx, &p)
	return r.batch(store, &p, reqs, err)
}

// Decide decides the conversions of a batch that was read, in order, each
// seeing what the earlier ones did.
func (g *Ingest) Decide(ctx context.Context, store *db.Store, b *Batch) {
	if b.Err != nil {
		return
	}
	b.decisions = make([]decision, len(b.reqs))
	for i := range b.reqs {
		if b.Out[i].Deferred {
			continue
		}
		prog, err := g.programFor(ctx, store.Queries, b.reqs[i])
		var d decision
		if err == nil {
			d, err = g.decide(ctx, store.Queries, b.look, prog, b.reqs[i])
		}
		if _, own := domain.AsError(err); own {
			b.Out[i].Err = err
			continue
		}
		if errors.Is(err, errCountAlone) {
			b.Out[i].Deferred = true
			continue
		}
		if err != nil {
			b.fail(err)
			return
		}
		if d.flagged() {
			b.Out[i].Deferred = true
			continue
		}
		b.look.apply(d)
		b.decisions[i] = d
		b.decided = append(b.decided, i)
	}
}

// batchLook answers a batch's lookups and shows each decision to the later ones.
type batchLook interface {
	lookups
	apply(decision)
}

// fail marks the whole batch for recording alone.
func (b *Batch) fail(err error) {
	b.Err = err
	b.Out = make([]Recorded, len(b.reqs))
	for i := range b.Out {
		b.Out[i].Deferred = true
	}
}

// Write writes a decided batch in one transaction and fills its Out; with
// following conversions, it reads their lookups in the same round trip, after
// the commit, and returns them as the next batch to decide. When the write
// fails, nothing of b was written (b.Err) and the next batch is read on its own.
func (g *Ingest) Write(ctx context.Context, store *db.Store, b *Batch, following []Conversion) (next *Batch) {
	var p db.Pipeline
	var w *pendingWrite
	if b.Err == nil && len(b.decided) > 0 {
		w = queueWrite(ctx, &p, b)
	}
	var r *pendingRead
	if len(following) > 0 {
		r = queueRead(ctx, &p, following)
	}
	if w == nil && r == nil {
		return nil
	}
	err := store.Send(ctx, &p)
	failed := false
	if w != nil {
		// An error after every statement answered (the connection) leaves the
		// batch to be recorded alone, which finds what was committed.
		if werr := p.Err(w.from, w.to); werr != nil || (err != nil && r == nil) {
			b.fail(cmp.Or(werr, err))
			failed = true
		} else {
			w.answer(b)
		}
	}
	switch {
	case r == nil:
		return nil
	case failed: // the lookups never ran: the pipeline stopped at the failed write
		return g.Read(ctx, store, following)
	}
	return r.batch(store, &p, following, err)
}

// Alone says whether a conversion is never taken into a batch: a refund locks
// the lines it takes back, and is recorded alone with Record.
func Alone(c Conversion) bool { return c.Kind == domain.KindRefund }

// appendNew appends id unless ids has it: the lookups match any of a batch's
// programs with any of its keys, and a program repeated in the array would
// multiply the index probes (a batch is one or a few programs).
func appendNew(ids []uuid.UUID, id uuid.UUID) []uuid.UUID {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

type programKey struct {
	programID uuid.UUID
	key       string
}

// batchLookups answers a batch's lookups from rows read at once, and from what
// earlier conversions of the batch did; protected deals and a month's sales
// (rare: channel deals, volume tiers) are read row by row, once each.
type batchLookups struct {
	rowLookups
	clicks   map[uuid.UUID]db.Click
	coupons  map[programKey]db.Coupon
	bindings map[programKey]db.CustomerBinding
	orders   map[programKey]bool
}

// pendingRead is the lookups of a batch queued in a pipeline: every external id
// recorded before, clicks, coupons, customer bindings, orders seen.
type pendingRead struct {
	from, to    int // its statements in the pipeline
	before      []db.RecordedExternalIDsRow
	clicks      []db.Click
	couponRows  []db.Coupon
	bindingRows []db.CustomerBinding
	orderRows   []db.OrdersSeenRow
}

func queueRead(ctx context.Context, p *db.Pipeline, reqs []Conversion) *pendingRead {
	var external db.RecordedExternalIDsParams
	var clickIDs []uuid.UUID
	var coupons db.CouponsByCodesParams
	var bindings db.CustomerBindingsForParams
	var orders db.OrdersSeenParams
	for _, r := range reqs {
		external.ProgramIds, external.ExternalIds = appendNew(external.ProgramIds, r.ProgramID), append(external.ExternalIds, r.ExternalID)
		if Alone(r) {
			continue
		}
		if id, err := domain.ParseClickID(r.ClickID); r.ClickID != "" && err == nil {
			clickIDs = append(clickIDs, id)
		}
		if r.CouponCode != "" {
			coupons.ProgramIds, coupons.Codes = appendNew(coupons.ProgramIds, r.ProgramID), append(coupons.Codes, r.CouponCode)
		}
		if r.CustomerRef != "" {
			bindings.ProgramIds, bindings.CustomerRefs = appendNew(bindings.ProgramIds, r.ProgramID), append(bindings.CustomerRefs, r.CustomerRef)
		}
		if r.OrderID != "" {
			orders.ProgramIds, orders.OrderIds = appendNew(orders.ProgramIds, r.ProgramID), append(orders.OrderIds, r.OrderID)
		}
	}
	r := &pendingRead{from: p.Len()}
	p.Begin()
	p.ForceCustomPlans()
	p.Add(func(q *db.Queries) (err error) { r.before, err = q.RecordedExternalIDs(ctx, external); return })
	if len(clickIDs) > 0 {
		p.Add(func(q *db.Queries) (err error) { r.clicks, err = q.GetClicks(ctx, clickIDs); return })
	}
	if len(coupons.Codes) > 0 {
		p.Add(func(q *db.Queries) (err error) { r.couponRows, err = q.CouponsByCodes(ctx, coupons); return })
	}
	if len(bindings.CustomerRefs) > 0 {
		p.Add(func(q *db.Queries) (err error) { r.bindingRows, err = q.CustomerBindingsFor(ctx, bindings); return })
	}
	if len(orders.OrderIds) > 0 {
		p.Add(func(q *db.Queries) (err error) { r.orderRows, err = q.OrdersSeen(ctx, orders); return })
	}
	p.Commit()
	r.to = p.Len()
	return r
}

// batch marks what the batch does not take (see Recorded.Deferred) and answers
// the rest's lookups from what p, once sent, read; sendErr is the pipeline's.
func (r *pendingRead) batch(store *db.Store, p *db.Pipeline, reqs []Conversion, sendErr error) *Batch {
	b := &Batch{reqs: reqs, Out: make([]Recorded, len(reqs))}
	if err := cmp.Or(p.Err(r.from, r.to), sendErr); err != nil {
		b.fail(err)
		return b
	}
	l := &batchLookups{rowLookups: rowLookups{store.Queries}, clicks: map[uuid.UUID]db.Click{}, coupons: map[programKey]db.Coupon{},
		bindings: map[programKey]db.CustomerBinding{}, orders: map[programKey]bool{}}
	taken := make(map[programKey]bool, len(reqs)+len(r.before))
	for _, row := range r.before {
		taken[programKey{row.ProgramID, row.ExternalID}] = true
	}
	for i, c := range reqs {
		k := programKey{c.ProgramID, c.ExternalID}
		if Alone(c) || taken[k] {
			b.Out[i].Deferred = true
		}
		taken[k] = true
	}
	for _, c := range r.clicks {
		l.clicks[c.ID] = c
	}
	for _, c := range r.couponRows {
		l.coupons[programKey{c.ProgramID, c.Code}] = c
	}
	for _, row := range r.bindingRows {
		l.bindings[programKey{row.ProgramID, row.CustomerRef}] = row
	}
	for _, o := range r.orderRows {
		l.orders[programKey{o.ProgramID, o.OrderID}] = true
	}
	b.look = l
	return b
}

func (l *batchLookups) click(_ context.Context, id uuid.UUID) (db.Click, bool, error) {
	c, ok := l.clicks[id]
	return c, ok, nil
}

func (l *batchLookups) coupon(_ context.Context, programID uuid.UUID, code string) (db.Coupon, bool, error) {
	c, ok := l.coupons[programKey{programID, code}]
	return c, ok, nil
}

func (l *batchLookups) binding(_ context.Context, programID uuid.UUID, customerRef string) (db.CustomerBinding, bool, error) {
	b, ok := l.bindings[programKey{programID, customerRef}]
	return b, ok, nil
}

func (l *batchLookups) orderSeen(_ context.Context, programID uuid.UUID, orderID string) (bool, error) {
	return l.orders[programKey{programID, orderID}], nil
}

// monthSales sends the conversion to be recorded alone: a month's count is
// taken under a lock in the transaction that writes the sale (rowLookups), which
// a batch read before its write transaction cannot hold.
func (l *batchLookups) monthSales(context.Context, uuid.UUID, time.Time) (int64, error) {
	return 0, errCountAlone
}

// apply makes what a decision does visible to the batch's later conversions,
// as its rows would be to a later Record.
func (l *batchLookups) apply(d decision) {
	c := d.conv
	if c.OrderID != "" {
		l.orders[programKey{c.ProgramID, c.OrderID}] = true
	}
	if b := d.bind; b != nil {
		l.bindings[programKey{b.ProgramID, b.CustomerRef}] = db.CustomerBinding{ProgramID: b.ProgramID, CustomerRef: b.CustomerRef, PartnerID: b.PartnerID, FirstAt: b.FirstAt}
	}
}

// pendingWrite is a decided batch's conversions with their lines (one
// statement), and customer bindings, in one transaction, queued in a pipeline. A conversion whose
// external id was recorded meanwhile is not inserted, nor is its line: it is
// recorded alone (see answer).
type pendingWrite struct {
	from, to int                       // its statements in the pipeline
	rows     []db.CreateConversionsRow // the conversions and lines inserted
}

func queueWrite(ctx context.Context, p *db.Pipeline, b *Batch) *pendingWrite {
	var cv db.CreateConversionsParams
	var bind db.BindCustomersParams
	for _, i := range b.decided {
		c := b.decisions[i].conv
		cv.Ids = append(cv.Ids, c.ID)
		cv.ProgramIds = append(cv.ProgramIds, c.ProgramID)
		cv.ExternalIds = append(cv.ExternalIds, c.ExternalID)
		cv.RequestHashes = append(cv.RequestHashes, c.RequestHash)
		cv.Kinds = append(cv.Kinds, c.Kind)
		cv.Amounts = append(cv.Amounts, c.Amount.String())
		cv.Currencies = append(cv.Currencies, c.Currency)
		cv.OrderIds = append(cv.OrderIds, c.OrderID)
		cv.CustomerRefs = append(cv.CustomerRefs, c.CustomerRef)
		cv.CustomerEmails = append(cv.CustomerEmails, c.CustomerEmail)
		cv.CustomerDomains = append(cv.CustomerDomains, c.CustomerDomain)
		cv.OccurredAts = append(cv.OccurredAts, c.OccurredAt)
		cv.PartnerIds = append(cv.PartnerIds, c.PartnerID.UUID) // uuid.Nil is NULL
		cv.LinkIds = append(cv.LinkIds, c.LinkID.UUID)
		cv.ClickIds = append(cv.ClickIds, c.ClickID.UUID)
		cv.AttributionMethods = append(cv.AttributionMethods, deref(c.AttributionMethod))
		cv.UnattributedReasons = append(cv.UnattributedReasons, deref(c.UnattributedReason))
		if bd := b.decisions[i].bind; bd != nil {
			bind.ProgramIds = append(bind.ProgramIds, bd.ProgramID)
			bind.CustomerRefs = append(bind.CustomerRefs, bd.CustomerRef)
			bind.PartnerIds = append(bind.PartnerIds, bd.PartnerID)
			bind.FirstAts = append(bind.FirstAts, bd.FirstAt)
		}
		if l := b.decisions[i].line; l != nil {
			cv.LineIds = append(cv.LineIds, l.ID)
			cv.LineProgramIds = append(cv.LineProgramIds, l.ProgramID)
			cv.LinePartnerIds = append(cv.LinePartnerIds, l.PartnerID)
			cv.LineSourceIds = append(cv.LineSourceIds, l.SourceID)
			cv.LineAmounts = append(cv.LineAmounts, l.Amount.String())
			cv.LineCurrencies = append(cv.LineCurrencies, l.Currency)
			cv.LineStatuses = append(cv.LineStatuses, l.Status)
			cv.LineDescriptions = append(cv.LineDescriptions, l.Description)
			cv.LineOccurredAts = append(cv.LineOccurredAts, l.OccurredAt)
			cv.LineDedupeKeys = append(cv.LineDedupeKeys, l.DedupeKey)
			cv.LineHoldUntils = append(cv.LineHoldUntils, *l.HoldUntil)
		}
	}
	w := &pendingWrite{from: p.Len()}
	p.Begin()
	p.ForceGenericPlans()
	p.Add(func(q *db.Queries) (err error) { w.rows, err = q.CreateConversions(ctx, cv); return })
	if len(bind.CustomerRefs) > 0 {
		p.Add(func(q *db.Queries) error { return q.BindCustomers(ctx, bind) })
	}
	p.Commit()
	w.to = p.Len()
	return w
}

// answer fills the batch's Out from what was sent: the statements return only
// what PostgreSQL made (created_at); a row not returned was not inserted.
func (w *pendingWrite) answer(b *Batch) {
	created := make(map[uuid.UUID]time.Time, len(w.rows))
	for _, r := range w.rows {
		created[r.ID] = r.CreatedAt
	}
	for _, i := range b.decided {
		d := b.decisions[i]
		at, ok := created[d.conv.ID]
		if !ok { // its external id was recorded before: a repeat, or a conflict
			b.Out[i].Deferred = true
			continue
		}
		b.Out[i].Conversion = conversionRow(d.conv, at)
		b.Out[i].Lines = []db.CommissionLine{}
		if l := d.line; l != nil {
			if at, ok := created[l.ID]; ok {
				b.Out[i].Lines = append(b.Out[i].Lines, lineRow(*l, at))
			}
		}
	}
}

// conversionRow is the row CreateConversions stores for c, as a read of it
// answers: amounts at their column's scale, times to the microsecond.
func conversionRow(c db.CreateConversionParams, createdAt time.Time) db.Conversion {
	return db.Conversion{ID: c.ID, ProgramID: c.ProgramID, ExternalID: c.ExternalID, RequestHash: c.RequestHash, Kind: c.Kind,
		Amount: columnAmount(c.Amount), Currency: c.Currency, OrderID: c.OrderID, CustomerRef: c.CustomerRef, CustomerEmail: c.CustomerEmail,
		CustomerDomain: c.CustomerDomain, RefundOf: c.RefundOf, OccurredAt: columnTime(c.OccurredAt), PartnerID: c.PartnerID, LinkID: c.LinkID,
		ClickID: c.ClickID, AttributionMethod: c.AttributionMethod, UnattributedReason: c.UnattributedReason, FraudFlags: c.FraudFlags,
		ReviewStatus: c.ReviewStatus, CreatedAt: createdAt}
}

// lineRow is the commission line CreateConversions stores for l.
func lineRow(l db.CreateLineParams, createdAt time.Time) db.CommissionLine {
	hold := columnTime(*l.HoldUntil)
	return db.CommissionLine{ID: l.ID, ProgramID: l.ProgramID, PartnerID: l.PartnerID, Kind: "commission", SourceType: "conversion",
		SourceID: l.SourceID, Amount: columnAmount(l.Amount), Currency: l.Currency, Status: l.Status, Description: l.Description,
		OccurredAt: columnTime(l.OccurredAt), DedupeKey: l.DedupeKey, CreatedAt: createdAt, HoldUntil: &hold}
}

// columnAmount is an amount as a numeric(14, 2) column holds it: two decimals,
// rounded half away from zero as PostgreSQL rounds.
func columnAmount(n domain.Numeric) domain.Numeric { return domain.NewNumeric(n.Round(2)) }

// columnTime is a time as a timestamptz column holds it and pgx reads it back.
func columnTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).Local() }
