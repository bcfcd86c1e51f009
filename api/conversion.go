package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

// SignatureHeader carries "t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>".
const SignatureHeader = "X-Partnerops-Signature"

type ConversionRequest struct {
	ProgramID      string     `json:"program_id" validate:"required,uuid"`
	ExternalID     string     `json:"external_id" validate:"required,max=200"`
	Kind           string     `json:"kind" validate:"required,oneof=lead sale subscription_payment refund"`
	Amount         *Amount    `json:"amount"`
	Currency       string     `json:"currency" validate:"required,len=3"`
	OccurredAt     *time.Time `json:"occurred_at"`
	ClickToken     string     `json:"click_token" validate:"max=200"`
	ClickID        string     `json:"click_id" validate:"omitempty,uuid"`
	CouponCode     string     `json:"coupon_code" validate:"max=20"`
	OrderID        string     `json:"order_id" validate:"max=200"`
	CustomerRef    string     `json:"customer_ref" validate:"max=200"`
	CustomerEmail  string     `json:"customer_email" validate:"max=254"`
	CustomerDomain string     `json:"customer_domain" validate:"max=253"`
	CustomerIP     string     `json:"customer_ip" validate:"omitempty,ip"`
	RefundOf       string     `json:"refund_of" validate:"max=200"` // the external_id of the refunded conversion
}

type ConversionView struct {
	db.Conversion
	Lines []db.CommissionLine `json:"commission_lines"`
}

func (s *Server) createConversion(c *gin.Context) {
	// A key is checked before anything else; a signature needs the body's program.
	keyed := strings.HasPrefix(c.GetHeader("Authorization"), "Bearer ")
	if keyed && !s.identify(c, []string{domain.RoleIntegration}) {
		return
	}
	var req ConversionRequest
	body, err := s.readJSON(c, &req)
	if err == nil && !keyed {
		err = s.verifySignature(c, body, req.ProgramID)
	}
	// Two postbacks are the same if they say the same, before any defaults are
	// filled in (a retry without occurred_at must not look different).
	canonical, _ := json.Marshal(req)
	hash := sha256.Sum256(canonical)
	if err == nil {
		err = validateConversion(&req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	programID := uuid.MustParse(req.ProgramID)
	ctx := c.Request.Context()

	var view ConversionView
	status := http.StatusCreated
	record := func(q *db.Queries) error {
		prev, err := q.GetConversionByExternalID(ctx, db.GetConversionByExternalIDParams{ProgramID: programID, ExternalID: req.ExternalID})
		if err == nil {
			if string(prev.RequestHash) != string(hash[:]) {
				return domain.Conflict("external_id_reused", "a different conversion with external_id %q was recorded", req.ExternalID)
			}
			status = http.StatusOK // a retried postback: the first result, nothing new
			view, err = conversionView(ctx, q, prev)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		view, err = s.recordConversion(ctx, q, programID, req, hash[:])
		return err
	}
	err = s.store.InTx(ctx, record)
	if isUniqueViolation(err, "conversions_program_id_external_id_key") {
		// Lost a race with the same postback: its insert waited for the winner to
		// commit, so the winner's conversion is there to answer with now.
		err = s.store.InTx(ctx, record)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(status, view)
}

// verifySignature checks a signature made with one of the program's signing
// secrets (5 minutes of clock skew at most).
func (s *Server) verifySignature(c *gin.Context, body []byte, programID string) error {
	sig := c.GetHeader(SignatureHeader)
	if sig == "" {
		return newHTTPError(http.StatusUnauthorized, "unauthenticated", "send an integration API key or a "+SignatureHeader+" header", "")
	}
	id, err := uuid.Parse(programID)
	if err != nil {
		return newHTTPError(http.StatusUnauthorized, "unauthenticated", "a signed conversion names its program_id", "")
	}
	prog, err := s.store.GetProgram(c.Request.Context(), id)
	if errors.Is(err, pgx.ErrNoRows) {
		return newHTTPError(http.StatusUnauthorized, "unauthenticated", "the signature does not verify", "")
	}
	if err != nil {
		return err
	}
	secrets := make([][]byte, len(prog.SigningSecrets))
	for i, sec := range prog.SigningSecrets {
		secrets[i] = []byte(sec)
	}
	if err := domain.VerifySignature(sig, body, secrets, time.Now(), 5*time.Minute); err != nil {
		return newHTTPError(http.StatusUnauthorized, "bad_signature", err.Error(), SignatureHeader)
	}
	return nil
}

func validateConversion(req *ConversionRequest) error {
	now := time.Now()
	if req.OccurredAt == nil {
		req.OccurredAt = &now
	}
	switch {
	case req.OccurredAt.After(now.Add(5 * time.Minute)):
		return domain.Invalid("occurred_at", "in_future", "occurred_at cannot be in the future")
	case req.OccurredAt.Before(now.AddDate(-1, 0, 0)):
		return domain.Invalid("occurred_at", "too_old", "occurred_at is more than a year ago")
	case req.Kind == domain.KindLead && req.Amount != nil && req.Amount.IsNegative():
		return domain.Invalid("amount", "invalid", "amount cannot be negative")
	case req.Kind != domain.KindLead && (req.Amount == nil || !domain.ValidAmount(req.Amount.Decimal, req.Currency)):
		return domain.Invalid("amount", "invalid", "a %s needs a positive amount in %s with at most %d decimals", req.Kind, req.Currency, domain.MinorUnits(req.Currency))
	case req.Kind == domain.KindRefund && req.RefundOf == "":
		return domain.Invalid("refund_of", "required", "a refund names the external_id of the conversion it refunds")
	case req.Kind != domain.KindRefund && req.RefundOf != "":
		return domain.Invalid("refund_of", "invalid", "only a refund refers to another conversion")
	case req.CustomerEmail != "" && !domain.ValidEmail(req.CustomerEmail):
		return domain.Invalid("customer_email", "invalid", "customer_email must be an e-mail address")
	}
	if req.CustomerDomain != "" {
		d, ok := domain.CustomerDomain(req.CustomerDomain)
		if !ok {
			return domain.Invalid("customer_domain", "invalid", "customer_domain must be a website domain")
		}
		req.CustomerDomain = d
	}
	req.CouponCode = strings.ToUpper(strings.TrimSpace(req.CouponCode))
	return nil
}

func (s *Server) recordConversion(ctx context.Context, q *db.Queries, programID uuid.UUID, req ConversionRequest, hash []byte) (ConversionView, error) {
	prog, err := s.programs.get(programID, func() (db.Program, error) { return q.GetProgram(ctx, programID) })
	if errors.Is(err, pgx.ErrNoRows) {
		return ConversionView{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
	}
	if err != nil {
		return ConversionView{}, err
	}
	if req.Currency != prog.Currency {
		return ConversionView{}, domain.Invalid("currency", "wrong_currency", "this program converts in %s", prog.Currency)
	}
	amount := decimal.Zero
	if req.Amount != nil {
		amount = req.Amount.Decimal
	}
	at := req.OccurredAt.UTC()
	conv := db.CreateConversionParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, ExternalID: req.ExternalID, RequestHash: hash, Kind: req.Kind,
		Amount: domain.NewNumeric(amount), Currency: req.Currency, OrderID: req.OrderID, CustomerRef: req.CustomerRef,
		CustomerEmail: strings.ToLower(req.CustomerEmail), CustomerDomain: req.CustomerDomain, OccurredAt: at, FraudFlags: []string{}}
	if req.Kind == domain.KindRefund {
		return s.recordRefund(ctx, q, prog, conv, req.RefundOf)
	}

	att, err := s.attribute(ctx, q, prog, req, at)
	if err != nil {
		return ConversionView{}, err
	}
	if !att.Attributed() {
		conv.UnattributedReason = &att.Reason
		row, err := q.CreateConversion(ctx, conv)
		if err != nil {
			return ConversionView{}, err
		}
		return conversionView(ctx, q, row)
	}
	conv.PartnerID = uuid.NullUUID{UUID: att.PartnerID, Valid: true}
	conv.LinkID, conv.ClickID, conv.AttributionMethod = att.LinkID, att.ClickID, &att.Method

	partner, err := s.partners.get(att.PartnerID, func() (db.Partner, error) { return q.GetPartner(ctx, att.PartnerID) })
	if err != nil {
		return ConversionView{}, err
	}
	// Commission: the rule in force at the conversion's time, partner > tier > program.
	in := domain.CommissionInput{Kind: req.Kind, Amount: amount, Currency: prog.Currency, FirstPayment: true}
	var binding *db.CustomerBinding
	if req.CustomerRef != "" {
		if b, err := q.GetCustomerBinding(ctx, db.GetCustomerBindingParams{ProgramID: programID, CustomerRef: req.CustomerRef}); err == nil {
			binding = &b
			if b.PartnerID == att.PartnerID {
				in.FirstPayment, in.SinceFirst = false, at.Sub(b.FirstAt)
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return ConversionView{}, err
		}
	}
	rules, err := s.rules.get(programID, func() ([]domain.CommissionRule, error) { return loadRules(ctx, q, programID) })
	if err != nil {
		return ConversionView{}, err
	}
	event := domain.KindSale
	if req.Kind == domain.KindLead {
		event = domain.KindLead
	}
	var commission decimal.Decimal
	paid := false
	note := "no commission rule in force"
	if rule, ok := domain.SelectRule(rules, partner.ID, partner.TierID, event, at); ok {
		if len(rule.VolumeTiers) > 0 { // counted only when a volume tier needs it
			monthStart := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
			n, err := q.PartnerMonthSales(ctx, db.PartnerMonthSalesParams{PartnerID: conv.PartnerID, MonthStart: monthStart, MonthEnd: monthStart.AddDate(0, 1, 0)})
			if err != nil {
				return ConversionView{}, err
			}
			in.MonthSales = int(n) + 1
		}
		commission, paid, note = domain.Commission(rule, in)
	}

	// Fraud: flagged conversions wait for a manager instead of being paid silently.
	dup := false
	if req.OrderID != "" {
		if dup, err = q.OrderSeen(ctx, db.OrderSeenParams{ProgramID: programID, OrderID: req.OrderID}); err != nil {
			return ConversionView{}, err
		}
	}
	// The 90-day refund rate moves slowly; counting it on every conversion would
	// slow ingest as volume grows, so it is cached a minute per partner.
	stats, err := s.refunds.get(att.PartnerID, func() (db.PartnerRefundStatsRow, error) {
		return q.PartnerRefundStats(ctx, db.PartnerRefundStatsParams{PartnerID: conv.PartnerID, OccurredAt: at.AddDate(0, 0, -90)})
	})
	if err != nil {
		return ConversionView{}, err
	}
	fin := domain.FraudInput{PartnerEmail: partner.Email, CustomerEmail: req.CustomerEmail, PartnerIPHash: partner.LastIPHash,
		ConvertedAt: at, DuplicateOrder: dup, Sales90d: int(stats.Sales), Refunds90d: int(stats.Refunds)}
	if req.CustomerIP != "" && s.clicker != nil {
		fin.CustomerIPHash = s.clicker.IPHash(req.CustomerIP)
	}
	if att.Method == domain.ByClickToken || att.Method == domain.ByClickID {
		fin.ClickedAt = &att.At
	}
	conv.FraudFlags = domain.FraudFlags(fin)
	flagged := len(conv.FraudFlags) > 0
	if flagged {
		pending := "pending"
		conv.ReviewStatus = &pending
	}
	row, err := q.CreateConversion(ctx, conv)
	if err != nil {
		return ConversionView{}, err
	}
	if req.CustomerRef != "" && binding == nil {
		if err := q.BindCustomer(ctx, db.BindCustomerParams{ProgramID: programID, CustomerRef: req.CustomerRef, PartnerID: att.PartnerID, FirstAt: at}); err != nil {
			return ConversionView{}, err
		}
	}
	view := ConversionView{Conversion: row, Lines: []db.CommissionLine{}}
	if paid && commission.IsPositive() {
		status := "pending"
		if flagged {
			status = "held"
		}
		hold := at.AddDate(0, 0, int(prog.HoldingDays))
		line, err := q.CreateLine(ctx, db.CreateLineParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, PartnerID: att.PartnerID, Kind: "commission",
			SourceID: row.ID, Amount: domain.NewNumeric(commission), Currency: prog.Currency, Status: status,
			Description: fmt.Sprintf("%s %s (%s)", req.Kind, req.ExternalID, att.Method), OccurredAt: at,
			DedupeKey: "conversion/" + row.ID.String() + "/commission", HoldUntil: &hold})
		if err != nil {
			return ConversionView{}, err
		}
		view.Lines = append(view.Lines, line)
	} else if note != "" {
		s.logger.DebugContext(ctx, "no commission", "conversion", row.ID, "why", note)
	}
	if flagged {
		if err := s.startReview(ctx, row, prog); err != nil {
			return ConversionView{}, err
		}
	}
	return view, nil
}

// attribute gathers every way the conversion could be credited and lets the pure
// rule choose.
func (s *Server) attribute(ctx context.Context, q *db.Queries, prog db.Program, req ConversionRequest, at time.Time) (domain.Attribution, error) {
	in := domain.AttributionInput{At: at, Window: time.Duration(prog.CookieWindowDays) * 24 * time.Hour}
	if req.CustomerDomain != "" { // a protected deal registration wins over cookies
		pid, err := q.ProtectedDealFor(ctx, db.ProtectedDealForParams{ProgramID: prog.ID, CustomerDomain: req.CustomerDomain, ProtectedUntil: &at})
		if err == nil {
			in.Deal = &domain.Touch{PartnerID: pid}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return domain.Attribution{}, err
		}
	}
	if req.ClickToken != "" {
		tok, err := domain.ParseClickToken(req.ClickToken, s.cfg.Click.TokenKey)
		if err != nil || tok.ProgramID != prog.ID {
			in.TokenInvalid = true
		} else {
			in.Token = &domain.Touch{PartnerID: tok.PartnerID, LinkID: uuid.NullUUID{UUID: tok.LinkID, Valid: true}, ClickID: uuid.NullUUID{UUID: tok.ClickID, Valid: true}, At: tok.ClickedAt}
		}
	}
	if req.ClickID != "" {
		cl, err := q.GetClick(ctx, uuid.MustParse(req.ClickID))
		if err == nil && cl.ProgramID == prog.ID {
			in.Click = &domain.Touch{PartnerID: cl.PartnerID, LinkID: uuid.NullUUID{UUID: cl.LinkID, Valid: true}, ClickID: uuid.NullUUID{UUID: cl.ID, Valid: true}, At: cl.ClickedAt}
		} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return domain.Attribution{}, err
		}
	}
	if req.CouponCode != "" {
		cp, err := q.GetCouponByCode(ctx, db.GetCouponByCodeParams{Code: req.CouponCode, ProgramID: prog.ID})
		if err == nil {
			in.Coupon = &domain.Touch{PartnerID: cp.PartnerID}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return domain.Attribution{}, err
		}
	}
	if req.CustomerRef != "" {
		b, err := q.GetCustomerBinding(ctx, db.GetCustomerBindingParams{ProgramID: prog.ID, CustomerRef: req.CustomerRef})
		if err == nil {
			in.Binding = &domain.Touch{PartnerID: b.PartnerID}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return domain.Attribution{}, err
		}
	}
	return domain.Attribute(in), nil
}

// recordRefund takes a refund's share of the commission back: before payout by
// voiding (full) or a negative line in the same state (partial); after payout by
// a negative clawback line that the next close nets.
func (s *Server) recordRefund(ctx context.Context, q *db.Queries, prog db.Program, conv db.CreateConversionParams, refundOf string) (ConversionView, error) {
	orig, err := q.GetConversionByExternalID(ctx, db.GetConversionByExternalIDParams{ProgramID: prog.ID, ExternalID: refundOf})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && orig.Kind == domain.KindRefund) {
		return ConversionView{}, domain.Invalid("refund_of", "unknown_conversion", "no sale with external_id %q in this program", refundOf)
	}
	if err != nil {
		return ConversionView{}, err
	}
	lines, err := q.CommissionLinesOf(ctx, orig.ID) // locked: concurrent refunds of one sale queue up
	if err != nil {
		return ConversionView{}, err
	}
	before, err := q.RefundedSoFar(ctx, uuid.NullUUID{UUID: orig.ID, Valid: true})
	if err != nil {
		return ConversionView{}, err
	}
	refunded := before.Decimal.Add(conv.Amount.Decimal)
	if refunded.GreaterThan(orig.Amount.Decimal) {
		return ConversionView{}, domain.Invalid("amount", "too_much", "only %s of %s is left to refund", orig.Amount.Sub(before.Decimal).StringFixed(2), refundOf)
	}
	conv.RefundOf = uuid.NullUUID{UUID: orig.ID, Valid: true}
	conv.PartnerID, conv.LinkID, conv.ClickID = orig.PartnerID, orig.LinkID, orig.ClickID
	method := "refund"
	conv.AttributionMethod = &method
	row, err := q.CreateConversion(ctx, conv)
	if err != nil {
		return ConversionView{}, err
	}
	full := refunded.Equal(orig.Amount.Decimal)
	for _, l := range lines {
		if l.Kind != "commission" || l.Status == "void" {
			continue
		}
		if domain.LineFrozen(l.Status, l.CloseID.Valid) {
			// Frozen (in a close, carried or paid): never changed again; the refund is a
			// clawback that the open close holding the line nets, or else the next one.
			back := domain.ProRate(l.Amount.Decimal, conv.Amount.Decimal, orig.Amount.Decimal, prog.Currency)
			if back.IsZero() {
				continue
			}
			if _, err := activities.ClawBack(ctx, q, l, back, "conversion", orig.ID, fmt.Sprintf("refund %s of %s", conv.ExternalID, refundOf),
				"conversion/"+row.ID.String()+"/refund/"+l.ID.String(), conv.OccurredAt); err != nil {
				return ConversionView{}, err
			}
			continue
		}
		if full {
			// Not frozen: void the line and the partial-refund lines before it, nothing of it is owed.
			for _, other := range lines {
				if other.ID == l.ID || (other.RelatedLineID.Valid && other.RelatedLineID.UUID == l.ID) {
					if _, err := q.VoidLine(ctx, other.ID); err != nil {
						return ConversionView{}, err
					}
				}
			}
			continue
		}
		back := domain.ProRate(l.Amount.Decimal, conv.Amount.Decimal, orig.Amount.Decimal, prog.Currency)
		if back.IsZero() {
			continue
		}
		// A partial refund of a line not frozen yet: a clawback that waits with it.
		if _, err := q.CreateLine(ctx, db.CreateLineParams{ID: uuid.Must(uuid.NewV7()), ProgramID: prog.ID, PartnerID: l.PartnerID, Kind: "clawback",
			SourceID: orig.ID, Amount: domain.NewNumeric(back.Neg()), Currency: prog.Currency, Status: l.Status,
			Description: fmt.Sprintf("refund %s of %s", conv.ExternalID, refundOf), OccurredAt: conv.OccurredAt,
			DedupeKey: "conversion/" + row.ID.String() + "/refund/" + l.ID.String(), HoldUntil: l.HoldUntil,
			RelatedLineID: uuid.NullUUID{UUID: l.ID, Valid: true}}); err != nil {
			return ConversionView{}, err
		}
	}
	return conversionView(ctx, q, row)
}

func conversionView(ctx context.Context, q *db.Queries, c db.Conversion) (ConversionView, error) {
	source := c.ID
	if c.RefundOf.Valid {
		source = c.RefundOf.UUID
	}
	lines, err := q.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "conversion", SourceID: source})
	return ConversionView{Conversion: c, Lines: lines}, err
}

func loadRules(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]domain.CommissionRule, error) {
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

func (s *Server) startReview(ctx context.Context, conv db.Conversion, prog db.Program) error {
	return workflows.StartConversionReview(ctx, s.temporal, workflows.ReviewInput{ConversionID: conv.ID, PartnerID: conv.PartnerID.UUID,
		SLA: time.Duration(prog.ConversionReviewSLAHours) * time.Hour, Flags: conv.FraudFlags}, prog.ID)
}

func (s *Server) listConversions(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	programID, err := uuid.Parse(c.Query("program_id"))
	if err != nil {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "program_id (a UUID) is required", "program_id"))
		return
	}
	params := db.ListConversionsParams{ProgramID: programID, Limit: limit, After: after}
	if v := c.Query("review"); v != "" {
		params.ReviewStatus = &v
	}
	if cl := caller(c); cl.Role == domain.RolePartner {
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.ListConversions(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(r db.Conversion) uuid.UUID { return r.ID }))
}

func (s *Server) conversionFor(c *gin.Context) (db.Conversion, error) {
	return loadOwned(c, "conversion", s.store.GetConversion, func(cv db.Conversion) uuid.UUID { return cv.PartnerID.UUID })
}

func (s *Server) getConversion(c *gin.Context) {
	cv, err := s.conversionFor(c)
	var v ConversionView
	if err == nil {
		v, err = conversionView(c.Request.Context(), s.store.Queries, cv)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// reviewConversion sends a manager's decision on a flagged conversion.
func (s *Server) reviewConversion(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		cv, err := s.conversionFor(c)
		var req DecisionRequest
		var body []byte
		if err == nil && cv.ReviewStatus == nil {
			err = domain.Conflict("not_flagged", "this conversion was not flagged for review")
		}
		if err == nil {
			body, err = s.readJSON(c, &req)
		}
		if err != nil {
			s.abort(c, err)
			return
		}
		var st workflows.ReviewState
		s.decide(c, decision{
			Record: "conversion", RecordID: cv.ID, WorkflowID: ids.ConversionReview(cv.ID), Update: name, Reason: req.Reason, Body: body,
			Arg: func(json.RawMessage) (any, error) {
				return workflows.ReviewDecision{Actor: caller(c).Actor(), Reason: req.Reason}, nil
			},
			Result: &st,
			Ended:  func() error { return domain.Conflict("already_decided", "the conversion was already reviewed") },
			Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
				fresh, err := s.store.GetConversion(ctx, cv.ID)
				if err != nil {
					return answer{}, err
				}
				v, err := conversionView(ctx, s.store.Queries, fresh)
				return answer{Status: http.StatusOK, Body: v}, err
			},
		})
	}
}
