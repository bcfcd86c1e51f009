package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// Conversion is a merchant's report as ingest takes it: validated and
// normalised by the caller (the API's postback handler, or a backfill).
type Conversion struct {
	ProgramID      uuid.UUID
	ExternalID     string
	Kind           string // lead, sale, subscription_payment, refund
	Amount         decimal.Decimal
	Currency       string
	OccurredAt     time.Time
	ClickToken     string
	ClickID        string
	CouponCode     string
	OrderID        string
	CustomerRef    string
	CustomerEmail  string
	CustomerDomain string
	CustomerIP     string
	RefundOf       string // a refund: the external_id of the sale it refunds
	RequestHash    []byte // what makes a retried postback the same one
}

// Ingest is the conversion pipeline: plain functions over *db.Queries, with what
// they need besides the database passed in — lookups (the API caches them),
// the click token key, the address hash, and how to start a fraud review.
type Ingest struct {
	Program     func(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Program, error)
	Partner     func(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Partner, error)
	Rules       func(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]domain.CommissionRule, error)
	RefundStats func(ctx context.Context, q *db.Queries, partnerID uuid.UUID, at time.Time) (db.PartnerRefundStatsRow, error)
	TokenKey    []byte
	IPHash      func(ip string) []byte
	StartReview func(ctx context.Context, q *db.Queries, conv db.Conversion, prog db.Program) error
}

func (g *Ingest) program(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Program, error) {
	if g.Program != nil {
		return g.Program(ctx, q, id)
	}
	return q.GetProgram(ctx, id)
}

func (g *Ingest) partner(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Partner, error) {
	if g.Partner != nil {
		return g.Partner(ctx, q, id)
	}
	return q.GetPartner(ctx, id)
}

func (g *Ingest) rules(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]domain.CommissionRule, error) {
	if g.Rules != nil {
		return g.Rules(ctx, q, programID)
	}
	return LoadRules(ctx, q, programID)
}

func (g *Ingest) refundStats(ctx context.Context, q *db.Queries, partnerID uuid.UUID, at time.Time) (db.PartnerRefundStatsRow, error) {
	if g.RefundStats != nil {
		return g.RefundStats(ctx, q, partnerID, at)
	}
	return RefundStats(ctx, q, partnerID, at)
}

// RefundStats is a partner's sales and refunds in the 90 days before at (the
// refund-rate fraud rule).
func RefundStats(ctx context.Context, q *db.Queries, partnerID uuid.UUID, at time.Time) (db.PartnerRefundStatsRow, error) {
	return q.PartnerRefundStats(ctx, db.PartnerRefundStatsParams{PartnerID: uuid.NullUUID{UUID: partnerID, Valid: true}, OccurredAt: at.AddDate(0, 0, -90)})
}

// Record ingests one conversion in the caller's transaction: a refund takes its
// share back; anything else is decided (see decide) and written, and a flagged
// conversion's review is started.
func (g *Ingest) Record(ctx context.Context, q *db.Queries, req Conversion) (db.Conversion, []db.CommissionLine, error) {
	prog, err := g.programFor(ctx, q, req)
	if err != nil {
		return db.Conversion{}, nil, err
	}
	if req.Kind == domain.KindRefund {
		return g.recordRefund(ctx, q, prog, newConversionParams(req), req.RefundOf)
	}
	d, err := g.decide(ctx, q, rowLookups{q}, prog, req)
	if err != nil {
		return db.Conversion{}, nil, err
	}
	row, err := q.CreateConversion(ctx, d.conv)
	if err != nil {
		return db.Conversion{}, nil, err
	}
	if d.bind != nil {
		if err := q.BindCustomer(ctx, *d.bind); err != nil {
			return db.Conversion{}, nil, err
		}
	}
	lines := []db.CommissionLine{}
	if d.line != nil {
		line, err := q.CreateLine(ctx, *d.line)
		if err != nil {
			return db.Conversion{}, nil, err
		}
		lines = append(lines, line)
	}
	if d.flagged() {
		if err := g.StartReview(ctx, q, row, prog); err != nil {
			return db.Conversion{}, nil, err
		}
	}
	return row, lines, nil
}

// programFor is the conversion's program, refused when unknown or in another currency.
func (g *Ingest) programFor(ctx context.Context, q *db.Queries, req Conversion) (db.Program, error) {
	prog, err := g.program(ctx, q, req.ProgramID)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Program{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
	}
	if err != nil {
		return db.Program{}, err
	}
	if req.Currency != prog.Currency {
		return db.Program{}, domain.Invalid("currency", "wrong_currency", "this program converts in %s", prog.Currency)
	}
	return prog, nil
}

func newConversionParams(req Conversion) db.CreateConversionParams {
	return db.CreateConversionParams{ID: uuid.Must(uuid.NewV7()), ProgramID: req.ProgramID, ExternalID: req.ExternalID, RequestHash: req.RequestHash,
		Kind: req.Kind, Amount: domain.NewNumeric(req.Amount), Currency: req.Currency, OrderID: req.OrderID, CustomerRef: req.CustomerRef,
		CustomerEmail: strings.ToLower(req.CustomerEmail), CustomerDomain: req.CustomerDomain, OccurredAt: req.OccurredAt.UTC(), FraudFlags: []string{}}
}

// decision is what ingest decided for one conversion (not a refund), before
// anything is written.
type decision struct {
	conv db.CreateConversionParams
	line *db.CreateLineParams   // nil: nothing is owed
	bind *db.BindCustomerParams // the customer's first purchase through a partner
}

func (d decision) flagged() bool { return len(d.conv.FraudFlags) > 0 }

// decide attributes a conversion (click token, click id, coupon, customer
// binding; a protected deal first), prices it by the rule in force, scores it
// for fraud, and books its commission line, held for the program's holding
// period (or for review when flagged). It reads through look and writes nothing.
func (g *Ingest) decide(ctx context.Context, q *db.Queries, look lookups, prog db.Program, req Conversion) (decision, error) {
	conv := newConversionParams(req)
	at, amount := conv.OccurredAt, req.Amount
	att, err := g.attribute(ctx, look, prog, req, at)
	if err != nil {
		return decision{}, err
	}
	if !att.Attributed() {
		conv.UnattributedReason = &att.Reason
		return decision{conv: conv}, nil
	}
	conv.PartnerID = uuid.NullUUID{UUID: att.PartnerID, Valid: true}
	conv.LinkID, conv.ClickID, conv.AttributionMethod = att.LinkID, att.ClickID, &att.Method

	partner, err := g.partner(ctx, q, att.PartnerID)
	if err != nil {
		return decision{}, err
	}
	// Commission: the rule in force at the conversion's time, partner > tier > program.
	in := domain.CommissionInput{Kind: req.Kind, Amount: amount, Currency: prog.Currency, FirstPayment: true}
	bound := false
	if req.CustomerRef != "" {
		b, ok, err := look.binding(ctx, prog.ID, req.CustomerRef)
		if err != nil {
			return decision{}, err
		}
		if bound = ok; ok && b.PartnerID == att.PartnerID {
			in.FirstPayment, in.SinceFirst = false, at.Sub(b.FirstAt)
		}
	}
	rules, err := g.rules(ctx, q, prog.ID)
	if err != nil {
		return decision{}, err
	}
	event := domain.KindSale
	if req.Kind == domain.KindLead {
		event = domain.KindLead
	}
	var commission decimal.Decimal
	paid := false
	if rule, ok := domain.SelectRule(rules, partner.ID, partner.TierID, event, at); ok {
		if len(rule.VolumeTiers) > 0 { // counted only when a volume tier needs it
			n, err := look.monthSales(ctx, att.PartnerID, monthOf(at))
			if err != nil {
				return decision{}, err
			}
			in.MonthSales = int(n) + 1
		}
		commission, paid, _ = domain.Commission(rule, in)
	}

	// Fraud: flagged conversions wait for a manager instead of being paid silently.
	dup := false
	if req.OrderID != "" {
		if dup, err = look.orderSeen(ctx, prog.ID, req.OrderID); err != nil {
			return decision{}, err
		}
	}
	// The 90-day refund rate moves slowly; counting it on every conversion would
	// slow ingest as volume grows, so it is cached a minute per partner.
	stats, err := g.refundStats(ctx, q, att.PartnerID, at)
	if err != nil {
		return decision{}, err
	}
	fin := domain.FraudInput{PartnerEmail: partner.Email, CustomerEmail: req.CustomerEmail, PartnerIPHash: partner.LastIPHash,
		ConvertedAt: at, DuplicateOrder: dup, Sales90d: int(stats.Sales), Refunds90d: int(stats.Refunds)}
	if req.CustomerIP != "" && g.IPHash != nil {
		fin.CustomerIPHash = g.IPHash(req.CustomerIP)
	}
	if att.Method == domain.ByClickToken || att.Method == domain.ByClickID {
		fin.ClickedAt = &att.At
	}
	conv.FraudFlags = domain.FraudFlags(fin)
	d := decision{conv: conv}
	if d.flagged() {
		pending := "pending"
		d.conv.ReviewStatus = &pending
	}
	if req.CustomerRef != "" && !bound {
		d.bind = &db.BindCustomerParams{ProgramID: prog.ID, CustomerRef: req.CustomerRef, PartnerID: att.PartnerID, FirstAt: at}
	}
	if paid && commission.IsPositive() {
		status := "pending"
		if d.flagged() {
			status = "held"
		}
		hold := at.AddDate(0, 0, int(prog.HoldingDays))
		d.line = &db.CreateLineParams{ID: uuid.Must(uuid.NewV7()), ProgramID: prog.ID, PartnerID: att.PartnerID, Kind: "commission",
			SourceID: conv.ID, Amount: domain.NewNumeric(commission), Currency: prog.Currency, Status: status,
			Description: fmt.Sprintf("%s %s (%s)", req.Kind, req.ExternalID, att.Method), OccurredAt: at,
			DedupeKey: "conversion/" + conv.ID.String() + "/commission", HoldUntil: &hold}
	}
	return d, nil
}

func monthOf(at time.Time) time.Time {
	return time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// attribute gathers every way the conversion could be credited and lets the pure
// rule choose.
func (g *Ingest) attribute(ctx context.Context, look lookups, prog db.Program, req Conversion, at time.Time) (domain.Attribution, error) {
	in := domain.AttributionInput{At: at, Window: time.Duration(prog.CookieWindowDays) * 24 * time.Hour}
	if req.CustomerDomain != "" { // a protected deal registration wins over cookies
		pid, ok, err := look.protectedDeal(ctx, prog.ID, req.CustomerDomain, at)
		if err != nil {
			return domain.Attribution{}, err
		}
		if ok {
			in.Deal = &domain.Touch{PartnerID: pid}
		}
	}
	if req.ClickToken != "" {
		tok, err := domain.ParseClickToken(req.ClickToken, g.TokenKey)
		if err != nil || tok.ProgramID != prog.ID {
			in.TokenInvalid = true
		} else {
			in.Token = &domain.Touch{PartnerID: tok.PartnerID, LinkID: uuid.NullUUID{UUID: tok.LinkID, Valid: true}, ClickID: uuid.NullUUID{UUID: tok.ClickID, Valid: true}, At: tok.ClickedAt}
		}
	}
	if req.ClickID != "" {
		clickID, err := domain.ParseClickID(req.ClickID)
		if err != nil {
			return domain.Attribution{}, domain.Invalid("click_id", "invalid", "%s", err.Error())
		}
		cl, ok, err := look.click(ctx, clickID)
		if err != nil {
			return domain.Attribution{}, err
		}
		if ok && cl.ProgramID == prog.ID {
			in.Click = &domain.Touch{PartnerID: cl.PartnerID, LinkID: uuid.NullUUID{UUID: cl.LinkID, Valid: true}, ClickID: uuid.NullUUID{UUID: cl.ID, Valid: true}, At: cl.ClickedAt}
		}
	}
	if req.CouponCode != "" {
		cp, ok, err := look.coupon(ctx, prog.ID, req.CouponCode)
		if err != nil {
			return domain.Attribution{}, err
		}
		if ok {
			in.Coupon = &domain.Touch{PartnerID: cp.PartnerID}
		}
	}
	if req.CustomerRef != "" {
		b, ok, err := look.binding(ctx, prog.ID, req.CustomerRef)
		if err != nil {
			return domain.Attribution{}, err
		}
		if ok {
			in.Binding = &domain.Touch{PartnerID: b.PartnerID}
		}
	}
	return domain.Attribute(in), nil
}

// lookups is what a decision reads besides the program, its rules and the
// partner: row by row (Record) or from what a batch read at once (RecordBatch).
type lookups interface {
	protectedDeal(ctx context.Context, programID uuid.UUID, customerDomain string, at time.Time) (uuid.UUID, bool, error)
	click(ctx context.Context, id uuid.UUID) (db.Click, bool, error)
	coupon(ctx context.Context, programID uuid.UUID, code string) (db.Coupon, bool, error)
	binding(ctx context.Context, programID uuid.UUID, customerRef string) (db.CustomerBinding, bool, error)
	monthSales(ctx context.Context, partnerID uuid.UUID, month time.Time) (int64, error)
	orderSeen(ctx context.Context, programID uuid.UUID, orderID string) (bool, error)
}

// rowLookups reads each lookup with its own query.
type rowLookups struct{ q *db.Queries }

// found turns "no row" into false.
func found[T any](v T, err error) (T, bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return v, false, nil
	}
	return v, err == nil, err
}

func (l rowLookups) protectedDeal(ctx context.Context, programID uuid.UUID, customerDomain string, at time.Time) (uuid.UUID, bool, error) {
	return found(l.q.ProtectedDealFor(ctx, db.ProtectedDealForParams{ProgramID: programID, CustomerDomain: customerDomain, ProtectedUntil: &at}))
}

func (l rowLookups) click(ctx context.Context, id uuid.UUID) (db.Click, bool, error) {
	return found(l.q.GetClick(ctx, id))
}

func (l rowLookups) coupon(ctx context.Context, programID uuid.UUID, code string) (db.Coupon, bool, error) {
	return found(l.q.GetCouponByCode(ctx, db.GetCouponByCodeParams{Code: code, ProgramID: programID}))
}

func (l rowLookups) binding(ctx context.Context, programID uuid.UUID, customerRef string) (db.CustomerBinding, bool, error) {
	return found(l.q.GetCustomerBinding(ctx, db.GetCustomerBindingParams{ProgramID: programID, CustomerRef: customerRef}))
}

// monthSales counts the partner's sales of the month under a lock held until
// the transaction ends, so two replicas recording the partner's 10th and 11th
// sale at once count them one after the other (volume tiers pay each once).
func (l rowLookups) monthSales(ctx context.Context, partnerID uuid.UUID, month time.Time) (int64, error) {
	if err := l.q.LockPartnerMonth(ctx, "month-sales/"+partnerID.String()+"/"+month.Format("2006-01")); err != nil {
		return 0, err
	}
	return l.q.PartnerMonthSales(ctx, db.PartnerMonthSalesParams{PartnerID: uuid.NullUUID{UUID: partnerID, Valid: true}, MonthStart: month, MonthEnd: month.AddDate(0, 1, 0)})
}

func (l rowLookups) orderSeen(ctx context.Context, programID uuid.UUID, orderID string) (bool, error) {
	return l.q.OrderSeen(ctx, db.OrderSeenParams{ProgramID: programID, OrderID: orderID})
}

// recordRefund takes a refund's share of the commission back: before payout by
// voiding (full) or a negative line in the same state (partial); after payout by
// a negative clawback line that the next close nets.
func (g *Ingest) recordRefund(ctx context.Context, q *db.Queries, prog db.Program, conv db.CreateConversionParams, refundOf string) (db.Conversion, []db.CommissionLine, error) {
	orig, err := q.GetConversionByExternalID(ctx, db.GetConversionByExternalIDParams{ProgramID: prog.ID, ExternalID: refundOf})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && orig.Kind == domain.KindRefund) {
		return db.Conversion{}, nil, domain.Invalid("refund_of", "unknown_conversion", "no sale with external_id %q in this program", refundOf)
	}
	if err != nil {
		return db.Conversion{}, nil, err
	}
	lines, err := q.CommissionLinesOf(ctx, orig.ID) // locked: concurrent refunds of one sale queue up
	if err != nil {
		return db.Conversion{}, nil, err
	}
	before, err := q.RefundedSoFar(ctx, uuid.NullUUID{UUID: orig.ID, Valid: true})
	if err != nil {
		return db.Conversion{}, nil, err
	}
	refunded := before.Decimal.Add(conv.Amount.Decimal)
	if refunded.GreaterThan(orig.Amount.Decimal) {
		return db.Conversion{}, nil, domain.Invalid("amount", "too_much", "only %s of %s is left to refund", orig.Amount.Sub(before.Decimal).StringFixed(2), refundOf)
	}
	conv.RefundOf = uuid.NullUUID{UUID: orig.ID, Valid: true}
	conv.PartnerID, conv.LinkID, conv.ClickID = orig.PartnerID, orig.LinkID, orig.ClickID
	method := "refund"
	conv.AttributionMethod = &method
	row, err := q.CreateConversion(ctx, conv)
	if err != nil {
		return db.Conversion{}, nil, err
	}
	if conv.PartnerID.Valid { // every replica counts the partner's refund rate again
		if err := q.MarkPartnerRefund(ctx, conv.PartnerID.UUID); err != nil {
			return db.Conversion{}, nil, err
		}
	}
	full := refunded.Equal(orig.Amount.Decimal)
	// What earlier refunds took back from each line (their clawbacks name it).
	clawed := map[uuid.UUID]decimal.Decimal{}
	for _, l := range lines {
		if l.Kind == "clawback" && l.Status != "void" && l.RelatedLineID.Valid {
			clawed[l.RelatedLineID.UUID] = clawed[l.RelatedLineID.UUID].Sub(l.Amount.Decimal)
		}
	}
	for _, l := range lines {
		if l.Kind != "commission" || l.Status == "void" {
			continue
		}
		if domain.LineFrozen(l.Status, l.CloseID.Valid) {
			// Frozen (in a close, carried or paid): never changed again; the refund is a
			// clawback that the open close holding the line nets, or else the next one.
			back := domain.ClawbackDue(l.Amount.Decimal, clawed[l.ID], refunded, orig.Amount.Decimal, prog.Currency)
			if back.IsZero() {
				continue
			}
			if _, err := ClawBack(ctx, q, l, back, "conversion", orig.ID, fmt.Sprintf("refund %s of %s", conv.ExternalID, refundOf),
				"conversion/"+row.ID.String()+"/refund/"+l.ID.String(), conv.OccurredAt); err != nil {
				return db.Conversion{}, nil, err
			}
			continue
		}
		if full {
			// Not frozen: void the line and the partial-refund lines before it, nothing of it is owed.
			for _, other := range lines {
				if other.ID == l.ID || (other.RelatedLineID.Valid && other.RelatedLineID.UUID == l.ID) {
					if _, err := q.VoidLine(ctx, other.ID); err != nil {
						return db.Conversion{}, nil, err
					}
				}
			}
			continue
		}
		back := domain.ClawbackDue(l.Amount.Decimal, clawed[l.ID], refunded, orig.Amount.Decimal, prog.Currency)
		if back.IsZero() {
			continue
		}
		// A partial refund of a line not frozen yet: a clawback that waits with it.
		if _, err := q.CreateLine(ctx, db.CreateLineParams{ID: uuid.Must(uuid.NewV7()), ProgramID: prog.ID, PartnerID: l.PartnerID, Kind: "clawback",
			SourceID: orig.ID, Amount: domain.NewNumeric(back.Neg()), Currency: prog.Currency, Status: l.Status,
			Description: fmt.Sprintf("refund %s of %s", conv.ExternalID, refundOf), OccurredAt: conv.OccurredAt,
			DedupeKey: "conversion/" + row.ID.String() + "/refund/" + l.ID.String(), HoldUntil: l.HoldUntil,
			RelatedLineID: uuid.NullUUID{UUID: l.ID, Valid: true}}); err != nil {
			return db.Conversion{}, nil, err
		}
	}
	all, err := q.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "conversion", SourceID: orig.ID})
	return row, all, err
}

// LoadRules reads a program's commission rules for the pure rule selection.
func LoadRules(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]domain.CommissionRule, error) {
	rows, err := q.ListCommissionRules(ctx, programID)
	if err != nil {
		return nil, err
	}
	out := make([]domain.CommissionRule, len(rows))
	for i, r := range rows {
		var tiers []domain.VolumeTier
		if err := json.Unmarshal(r.VolumeTiers, &tiers); err != nil {
			return nil, err
		}
		out[i] = domain.CommissionRule{ID: r.ID, TierID: r.TierID, PartnerID: r.PartnerID, Event: r.Event, Kind: r.Kind, Rate: r.Rate.Decimal,
			Amount: r.Amount.Decimal, VolumeTiers: tiers, Recurring: r.Recurring, RecurringMonths: int(r.RecurringMonths),
			EffectiveFrom: r.EffectiveFrom, EffectiveTo: r.EffectiveTo}
	}
	return out, nil
}
