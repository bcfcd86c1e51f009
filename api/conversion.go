package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"github.com/partnerops/partnerops/starts"
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
	ClickID        string     `json:"click_id" validate:"max=36"` // the short id the redirect appended, or the click's UUID
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
	conv := ingestRequest(req, hash[:])
	ctx := c.Request.Context()
	if id, err := domain.ParseClickID(req.ClickID); s.clicker != nil && req.ClickID != "" && err == nil {
		s.clicker.AwaitStored(ctx, id) // a click answered moments ago is written before it is looked up
	}
	rec := activities.Recorded{Deferred: true}
	if !activities.Alone(conv) {
		rec, err = s.conversions.record(ctx, conv)
	}
	if err == nil && !rec.Deferred {
		err = rec.Err
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	if !rec.Deferred {
		c.JSON(http.StatusCreated, ConversionView{Conversion: rec.Conversion, Lines: rec.Lines})
		return
	}

	view, status, err := s.recordAlone(ctx, conv)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(status, view)
}

// recordAlone records a postback in its own transaction: a refund, a repeat
// of an external id, a flagged conversion, or one of a batch that failed as a whole.
func (s *Server) recordAlone(ctx context.Context, conv activities.Conversion) (ConversionView, int, error) {
	var view ConversionView
	status := http.StatusCreated
	record := func(ctx context.Context, q *db.Queries) error {
		prev, err := q.GetConversionByExternalID(ctx, db.GetConversionByExternalIDParams{ProgramID: conv.ProgramID, ExternalID: conv.ExternalID})
		if err == nil {
			if string(prev.RequestHash) != string(conv.RequestHash) {
				return domain.Conflict("external_id_reused", "a different conversion with external_id %q was recorded", conv.ExternalID)
			}
			status = http.StatusOK // a retried postback: the first result, nothing new
			view, err = conversionView(ctx, q, prev)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		row, lines, err := s.ingest.Record(ctx, q, conv)
		view = ConversionView{Conversion: row, Lines: lines}
		return err
	}
	err := s.tx(ctx, record)
	if isUniqueViolation(err, "conversions_program_id_external_id_key") {
		// Lost a race with the same postback: its insert waited for the winner to
		// commit, so the winner's conversion is there to answer with now.
		err = s.tx(ctx, record)
	}
	return view, status, err
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
	req.CustomerIP = canonicalIP(req.CustomerIP) // hashed as the click path hashes addresses
	req.CouponCode = strings.ToUpper(strings.TrimSpace(req.CouponCode))
	return nil
}

func conversionView(ctx context.Context, q *db.Queries, c db.Conversion) (ConversionView, error) {
	source := c.ID
	if c.RefundOf.Valid {
		source = c.RefundOf.UUID
	}
	lines, err := q.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "conversion", SourceID: source})
	return ConversionView{Conversion: c, Lines: lines}, err
}

// ingestRequest is a validated postback as the ingest pipeline takes it.
func ingestRequest(req ConversionRequest, hash []byte) activities.Conversion {
	amount := decimal.Zero
	if req.Amount != nil {
		amount = req.Amount.Decimal
	}
	return activities.Conversion{ProgramID: uuid.MustParse(req.ProgramID), ExternalID: req.ExternalID, Kind: req.Kind, Amount: amount,
		Currency: req.Currency, OccurredAt: *req.OccurredAt, ClickToken: req.ClickToken, ClickID: req.ClickID, CouponCode: req.CouponCode,
		OrderID: req.OrderID, CustomerRef: req.CustomerRef, CustomerEmail: req.CustomerEmail, CustomerDomain: req.CustomerDomain,
		CustomerIP: req.CustomerIP, RefundOf: req.RefundOf, RequestHash: hash}
}

// newIngest wires the conversion pipeline to the API's caches: a change of a
// program, its rules or a partner shows within seconds, the refund rate within a minute.
func (s *Server) newIngest() *activities.Ingest {
	in := &activities.Ingest{
		Program: func(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Program, error) {
			return s.programs.get(id, func() (db.Program, error) { return q.GetProgram(ctx, id) })
		},
		Partner: func(ctx context.Context, q *db.Queries, id uuid.UUID) (db.Partner, error) {
			return s.partners.get(id, func() (db.Partner, error) { return q.GetPartner(ctx, id) })
		},
		Rules: func(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]domain.CommissionRule, error) {
			return s.rules.get(programID, func() ([]domain.CommissionRule, error) { return activities.LoadRules(ctx, q, programID) })
		},
		// The 90-day refund rate moves slowly; counting it on every conversion would
		// slow ingest as volume grows, so it is cached a minute per partner — and
		// counted again once the partner (cached 5 s) shows a refund recorded
		// after the count, through whichever replica: every replica then flags
		// alike at most 5 s after a refund.
		RefundStats: func(ctx context.Context, q *db.Queries, partnerID uuid.UUID, at time.Time) (db.PartnerRefundStatsRow, error) {
			load := func() (db.PartnerRefundStatsRow, error) { return activities.RefundStats(ctx, q, partnerID, at) }
			p, err := s.partners.get(partnerID, func() (db.Partner, error) { return q.GetPartner(ctx, partnerID) })
			if err != nil || p.LastRefundAt == nil {
				return s.refunds.get(partnerID, load)
			}
			return s.refunds.getSince(partnerID, *p.LastRefundAt, load)
		},
		TokenKey:    s.cfg.Click.TokenKey,
		StartReview: s.startReview,
	}
	if s.clicker != nil {
		in.IPHash = s.clicker.IPHash
	}
	return in
}

func (s *Server) startReview(ctx context.Context, q *db.Queries, conv db.Conversion, prog db.Program) error {
	partner, err := q.GetPartner(ctx, conv.PartnerID.UUID)
	if err != nil {
		return err
	}
	// The review starts in the background: a merchant's postback never waits
	// for Temporal (under load a start can take seconds).
	return starts.RecordLater(ctx, q, workflows.ConversionReviewStart(workflows.ReviewInput{ConversionID: conv.ID, PartnerID: conv.PartnerID.UUID,
		SLA: time.Duration(prog.ConversionReviewSLAHours) * time.Hour, Flags: conv.FraudFlags}, prog.ID,
		domain.ReviewSummary(conv.ExternalID, conv.Amount.Decimal, conv.Currency, partner.Company, conv.FraudFlags)))
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
