package activities

import (
	"context"
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
// customer bindings and lines (one INSERT per table, one transaction). A later
// conversion sees what an earlier one of the batch did (a customer bound, an
// order seen, a month's sales counted).
//
// An error returned is the batch's (the database's): nothing was written, and
// each conversion is to be recorded alone.
func (g *Ingest) RecordBatch(ctx context.Context, store *db.Store, reqs []Conversion) ([]Recorded, error) {
	out := make([]Recorded, len(reqs))
	look, err := read(ctx, store, reqs, out)
	if err != nil {
		return nil, err
	}
	q := store.Queries
	var decided []int
	decisions := make([]decision, len(reqs))
	for i := range reqs {
		if out[i].Deferred {
			continue
		}
		prog, err := g.programFor(ctx, q, reqs[i])
		var d decision
		if err == nil {
			d, err = g.decide(ctx, q, look, prog, reqs[i])
		}
		if _, own := domain.AsError(err); own {
			out[i].Err = err
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.flagged() {
			out[i].Deferred = true
			continue
		}
		look.apply(d)
		decisions[i] = d
		decided = append(decided, i)
	}
	if len(decided) == 0 {
		return out, nil
	}
	return out, write(ctx, store, decisions, decided, out)
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
	months   map[programKey]int64 // partner and month → sales in PostgreSQL
	added    map[programKey]int64 // partner and month → sales decided by the batch
}

func monthKey(partnerID uuid.UUID, month time.Time) programKey {
	return programKey{partnerID, month.Format("2006-01")}
}

// read sends one pipeline with every lookup of the batch (the external ids
// recorded before, clicks, coupons, customer bindings, orders seen), marks what
// the batch does not take (see Recorded.Deferred), and answers the rest's lookups.
func read(ctx context.Context, store *db.Store, reqs []Conversion, out []Recorded) (*batchLookups, error) {
	l := &batchLookups{rowLookups: rowLookups{store.Queries}, clicks: map[uuid.UUID]db.Click{}, coupons: map[programKey]db.Coupon{},
		bindings: map[programKey]db.CustomerBinding{}, orders: map[programKey]bool{}, months: map[programKey]int64{}, added: map[programKey]int64{}}
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
	var p db.Pipeline
	var before []db.RecordedExternalIDsRow
	var clicks []db.Click
	var couponRows []db.Coupon
	var bindingRows []db.CustomerBinding
	var orderRows []db.OrdersSeenRow
	p.Begin()
	p.ForceCustomPlans()
	p.Add(func(q *db.Queries) (err error) { before, err = q.RecordedExternalIDs(ctx, external); return })
	if len(clickIDs) > 0 {
		p.Add(func(q *db.Queries) (err error) { clicks, err = q.GetClicks(ctx, clickIDs); return })
	}
	if len(coupons.Codes) > 0 {
		p.Add(func(q *db.Queries) (err error) { couponRows, err = q.CouponsByCodes(ctx, coupons); return })
	}
	if len(bindings.CustomerRefs) > 0 {
		p.Add(func(q *db.Queries) (err error) { bindingRows, err = q.CustomerBindingsFor(ctx, bindings); return })
	}
	if len(orders.OrderIds) > 0 {
		p.Add(func(q *db.Queries) (err error) { orderRows, err = q.OrdersSeen(ctx, orders); return })
	}
	p.Commit()
	if err := store.Send(ctx, &p); err != nil {
		return nil, err
	}

	taken := make(map[programKey]bool, len(reqs)+len(before))
	for _, r := range before {
		taken[programKey{r.ProgramID, r.ExternalID}] = true
	}
	for i, r := range reqs {
		k := programKey{r.ProgramID, r.ExternalID}
		if Alone(r) || taken[k] {
			out[i].Deferred = true
		}
		taken[k] = true
	}
	for _, c := range clicks {
		l.clicks[c.ID] = c
	}
	for _, c := range couponRows {
		l.coupons[programKey{c.ProgramID, c.Code}] = c
	}
	for _, b := range bindingRows {
		l.bindings[programKey{b.ProgramID, b.CustomerRef}] = b
	}
	for _, o := range orderRows {
		l.orders[programKey{o.ProgramID, o.OrderID}] = true
	}
	return l, nil
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

func (l *batchLookups) monthSales(ctx context.Context, partnerID uuid.UUID, month time.Time) (int64, error) {
	k := monthKey(partnerID, month)
	n, ok := l.months[k]
	if !ok {
		var err error
		if n, err = l.rowLookups.monthSales(ctx, partnerID, month); err != nil {
			return 0, err
		}
		l.months[k] = n
	}
	return n + l.added[k], nil
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
	if c.PartnerID.Valid && (c.Kind == domain.KindSale || c.Kind == domain.KindSubscription) {
		l.added[monthKey(c.PartnerID.UUID, monthOf(c.OccurredAt))]++
	}
}

// write inserts the decided conversions, their customers' bindings and their
// lines, one statement each in one pipeline and one transaction, and fills out.
// An external id a concurrent request recorded meanwhile fails the batch
// (unique violation): each of its conversions is then recorded alone.
func write(ctx context.Context, store *db.Store, decisions []decision, decided []int, out []Recorded) error {
	var cv db.CreateConversionsParams
	var bind db.BindCustomersParams
	var ln db.CreateCommissionLinesParams
	for _, i := range decided {
		c := decisions[i].conv
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
		if b := decisions[i].bind; b != nil {
			bind.ProgramIds = append(bind.ProgramIds, b.ProgramID)
			bind.CustomerRefs = append(bind.CustomerRefs, b.CustomerRef)
			bind.PartnerIds = append(bind.PartnerIds, b.PartnerID)
			bind.FirstAts = append(bind.FirstAts, b.FirstAt)
		}
		if l := decisions[i].line; l != nil {
			ln.Ids = append(ln.Ids, l.ID)
			ln.ProgramIds = append(ln.ProgramIds, l.ProgramID)
			ln.PartnerIds = append(ln.PartnerIds, l.PartnerID)
			ln.SourceIds = append(ln.SourceIds, l.SourceID)
			ln.Amounts = append(ln.Amounts, l.Amount.String())
			ln.Currencies = append(ln.Currencies, l.Currency)
			ln.Statuses = append(ln.Statuses, l.Status)
			ln.Descriptions = append(ln.Descriptions, l.Description)
			ln.OccurredAts = append(ln.OccurredAts, l.OccurredAt)
			ln.DedupeKeys = append(ln.DedupeKeys, l.DedupeKey)
			ln.HoldUntils = append(ln.HoldUntils, *l.HoldUntil)
		}
	}
	var p db.Pipeline
	var rows []db.CreateConversionsRow
	var made []db.CreateCommissionLinesRow
	p.Begin()
	p.ForceGenericPlans()
	p.Add(func(q *db.Queries) (err error) { rows, err = q.CreateConversions(ctx, cv); return })
	if len(bind.CustomerRefs) > 0 {
		p.Add(func(q *db.Queries) error { return q.BindCustomers(ctx, bind) })
	}
	if len(ln.Ids) > 0 {
		p.Add(func(q *db.Queries) (err error) { made, err = q.CreateCommissionLines(ctx, ln); return })
	}
	p.Commit()
	if err := store.Send(ctx, &p); err != nil {
		return err
	}
	// The answers are built from what was sent (the statements return only
	// what PostgreSQL made: created_at); a row not returned was not inserted.
	created := make(map[uuid.UUID]time.Time, len(rows)+len(made))
	for _, r := range rows {
		created[r.ID] = r.CreatedAt
	}
	for _, r := range made {
		created[r.ID] = r.CreatedAt
	}
	for _, i := range decided {
		d := decisions[i]
		out[i].Conversion = conversionRow(d.conv, created[d.conv.ID])
		out[i].Lines = []db.CommissionLine{}
		if l := d.line; l != nil {
			if at, ok := created[l.ID]; ok {
				out[i].Lines = append(out[i].Lines, lineRow(*l, at))
			}
		}
	}
	return nil
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

// lineRow is the commission line CreateCommissionLines stores for l.
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
