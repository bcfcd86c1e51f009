package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"strconv"
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

type DealRequest struct {
	CustomerName      string   `json:"customer_name" validate:"required,max=200"`
	CustomerDomain    string   `json:"customer_domain" validate:"required,max=253"`
	Country           string   `json:"country" validate:"required"`
	ContactName       string   `json:"contact_name" validate:"required,max=200"`
	ContactEmail      string   `json:"contact_email" validate:"required,max=254"`
	EstimatedValue    *Amount  `json:"estimated_value" validate:"required"`
	Currency          string   `json:"currency" validate:"required"`
	Products          []string `json:"products" validate:"required,min=1,max=50,dive,required,max=100"`
	ExpectedCloseDate string   `json:"expected_close_date" validate:"required,datetime=2006-01-02"`
	Notes             string   `json:"notes" validate:"max=5000"`
}

type DealDecisionRequest struct {
	Reason string `json:"reason" validate:"max=2000"`
	Margin *Rate  `json:"margin"`
}

type ExtensionDecisionRequest struct {
	Reason string `json:"reason" validate:"max=2000"`
	Days   int    `json:"days" validate:"min=0,max=365"`
}

type ReasonRequest struct {
	Reason string `json:"reason" validate:"required,max=2000"`
}

type StageRequest struct {
	Stage string `json:"stage" validate:"required,max=50"`
}

type WonRequest struct {
	FinalAmount *Amount `json:"final_amount" validate:"required"`
}

// DealView is a deal as the API shows it, with its timeline and workflow.
type DealView struct {
	db.Deal
	Timeline         []db.DealEvent        `json:"timeline"`
	MarginLine       *db.CommissionLine    `json:"margin_line,omitempty"`
	Lines            []db.CommissionLine   `json:"lines,omitempty"` // after a reversal: the margin and its clawback
	PendingExtension *workflows.DealUpdate `json:"pending_extension,omitempty"`
}

func (s *Server) createDeal(c *gin.Context) {
	var req DealRequest
	body, err := s.readJSON(c, &req)
	var dv dealValues
	if err == nil {
		dv, err = validateDeal(&req)
	}
	var p db.Partner
	if err == nil {
		p, err = s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	}
	if err == nil && p.Status != domain.StatusActive {
		err = domain.Forbidden("partner_not_active", "only an active partner can register deals; this partner is %s", strings.ReplaceAll(p.Status, "_", " "))
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		prog, err := q.GetProgram(ctx, p.ProgramID)
		if err != nil {
			return answer{}, err
		}
		if req.Currency != prog.Currency {
			return answer{}, domain.Invalid("currency", "wrong_currency", "this program registers deals in %s", prog.Currency)
		}
		stages, err := programStages(prog)
		if err != nil {
			return answer{}, err
		}
		// One open registration per partner and customer: a repeat (a double
		// submit, a retry without an Idempotency-Key) is told which deal it repeats.
		if err := q.LockPartnerCustomer(ctx, db.LockPartnerCustomerParams{PartnerID: p.ID.String(), CustomerDomain: dv.domain}); err != nil {
			return answer{}, err
		}
		if open, err := q.FindOpenDeal(ctx, db.FindOpenDealParams{PartnerID: p.ID, CustomerDomain: dv.domain}); err == nil {
			he := newHTTPError(http.StatusConflict, "already_registered",
				fmt.Sprintf("you already have an open registration for %s: deal %s (%s)", dv.domain, open.ID, open.Status), "customer_domain")
			he.detail.RecordID = open.ID.String()
			return answer{}, he
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return answer{}, err
		}
		id := uuid.Must(uuid.NewV7())
		d, err := q.CreateDeal(ctx, db.CreateDealParams{
			ID: id, ProgramID: p.ProgramID, PartnerID: p.ID, TierID: p.TierID, CustomerName: req.CustomerName,
			CustomerNameNormalized: domain.NormalizeCompanyName(req.CustomerName), CustomerDomain: dv.domain, Country: req.Country,
			ContactName: req.ContactName, ContactEmail: strings.ToLower(req.ContactEmail), EstimatedValue: domain.NewNumeric(req.EstimatedValue.Decimal),
			Currency: req.Currency, Products: req.Products, ExpectedCloseDate: domain.NewDate(dv.closeDate), Notes: req.Notes,
			Stage: stages[0].Name, WorkflowID: ids.Deal(id),
		})
		if err != nil {
			return answer{}, err
		}
		tier, err := q.GetTier(ctx, p.TierID)
		if err != nil {
			return answer{}, err
		}
		if err := starts.Record(ctx, q, workflows.DealStart(workflows.DealInput{DealID: id, PartnerID: p.ID, ProgramID: p.ProgramID},
			domain.DealSummary(req.CustomerName, req.EstimatedValue.Decimal, req.Currency, p.Company, tier.Name))); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: DealView{Deal: d}}, nil
	})
}

type dealValues struct {
	domain    string
	closeDate time.Time
}

func validateDeal(req *DealRequest) (dealValues, error) {
	var v dealValues
	var ok bool
	req.CustomerName, req.ContactName = strings.TrimSpace(req.CustomerName), strings.TrimSpace(req.ContactName)
	switch {
	case req.CustomerName == "" || domain.NormalizeCompanyName(req.CustomerName) == "":
		return v, domain.Invalid("customer_name", "required", "customer_name must name a company")
	case req.ContactName == "":
		return v, domain.Invalid("contact_name", "required", "contact_name may not be blank")
	case !domain.ValidCountry(req.Country):
		return v, domain.Invalid("country", "invalid", "country must be an ISO 3166 two-letter code such as US or DE")
	case !domain.ValidEmail(req.ContactEmail):
		return v, domain.Invalid("contact_email", "invalid", "contact_email must be an e-mail address")
	case len(req.Currency) != 3 || strings.ToUpper(req.Currency) != req.Currency:
		return v, domain.Invalid("currency", "invalid", "currency must be an ISO 4217 code such as USD")
	case !domain.ValidAmount(req.EstimatedValue.Decimal, req.Currency) || req.EstimatedValue.GreaterThanOrEqual(decimal.New(1, 12)):
		return v, domain.Invalid("estimated_value", "invalid", "estimated_value must be a positive amount in %s with at most %d decimals", req.Currency, domain.MinorUnits(req.Currency))
	}
	if v.domain, ok = domain.CustomerDomain(req.CustomerDomain); !ok {
		return v, domain.Invalid("customer_domain", "invalid", "customer_domain must be the customer's website domain, such as acme.com")
	}
	v.closeDate, _ = time.Parse(time.DateOnly, req.ExpectedCloseDate)
	for _, p := range req.Products {
		if strings.TrimSpace(p) == "" {
			return v, domain.Invalid("products", "invalid", "products may not be blank")
		}
	}
	return v, nil
}

func programStages(p db.Program) ([]domain.Stage, error) {
	var stages []domain.Stage
	if err := json.Unmarshal(p.DealStages, &stages); err != nil || len(stages) == 0 {
		return nil, errors.New("program deal stages are not valid")
	}
	return stages, nil
}

// dealFor loads the deal in the path; a partner sees only its own (else 404).
func (s *Server) dealFor(c *gin.Context) (db.Deal, error) {
	return loadOwned(c, "deal", s.store.GetDeal, func(d db.Deal) uuid.UUID { return d.PartnerID })
}

func (s *Server) getDeal(c *gin.Context) {
	d, err := s.dealFor(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	v, err := s.dealView(c.Request.Context(), d, nil)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) dealView(ctx context.Context, d db.Deal, st *workflows.DealState) (DealView, error) {
	v := DealView{Deal: d}
	var err error
	if v.Timeline, err = s.store.ListDealEvents(ctx, d.ID); err != nil {
		return v, err
	}
	lines, err := s.store.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "deal", SourceID: d.ID})
	if err != nil {
		return v, err
	}
	if len(lines) > 0 {
		v.MarginLine = &lines[0]
	}
	if st == nil && d.Status == domain.DealApproved {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if resp, err := s.temporal.QueryWorkflow(qctx, d.WorkflowID, "", workflows.DealStatusQuery); err == nil {
			var state workflows.DealState
			if resp.Get(&state) == nil {
				st = &state
			}
		}
	}
	if st != nil {
		v.PendingExtension = st.PendingExtension
	}
	return v, nil
}

func (s *Server) listDeals(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListDealsParams{Limit: limit, After: after, Status: queryString(c, "status"), Stage: queryString(c, "stage")}
	if params.PartnerID, err = queryUUID(c, "partner_id"); err == nil {
		params.ProgramID, err = queryUUID(c, "program_id")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	if v := c.Query("expiring_within"); v != "" { // days
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || n < 0 || n > 3650 {
			s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "expiring_within is a number of days, such as 14", "expiring_within"))
			return
		}
		before := time.Now().AddDate(0, 0, n)
		params.ExpiringBefore = &before
	}
	if cl := caller(c); cl.Role == domain.RolePartner { // a partner lists only its own, whatever it asks
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.ListDeals(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(d db.Deal) uuid.UUID { return d.ID }))
}

// dealMessage sends one message to the deal's workflow as an Update and answers
// with the deal as it stands afterwards.
func (s *Server) dealMessage(c *gin.Context, name string, dst any, reason func() string, build func(d db.Deal, actor string) (any, error)) {
	d, err := s.dealFor(c)
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, dst)
	}
	var arg any
	if err == nil {
		arg, err = build(d, caller(c).Actor())
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	var st workflows.DealState
	s.decide(c, decision{
		Record: "deal", RecordID: d.ID, WorkflowID: d.WorkflowID, Update: name, Reason: reason(), Body: body,
		Arg:    func(json.RawMessage) (any, error) { return arg, nil },
		Result: &st,
		Ended:  func() error { return domain.Conflict("deal_closed", "the deal is %s", d.Status) },
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
			fresh, err := s.store.GetDeal(ctx, d.ID)
			if err != nil {
				return answer{}, err
			}
			v, err := s.dealView(ctx, fresh, &st)
			return answer{Status: http.StatusOK, Body: v}, err
		},
	})
}

func (s *Server) approveDeal(c *gin.Context) {
	var req DealDecisionRequest
	s.dealMessage(c, workflows.DealApprove, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealDecision{Actor: actor, Reason: req.Reason, Margin: req.Margin.dec()}, nil
	})
}

func (s *Server) rejectDeal(c *gin.Context) {
	var req ReasonRequest
	s.dealMessage(c, workflows.DealReject, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealDecision{Actor: actor, Reason: req.Reason}, nil
	})
}

func (s *Server) requestExtension(c *gin.Context) {
	var req ReasonRequest
	s.dealMessage(c, workflows.DealRequestExtension, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealUpdate{Actor: actor, Reason: req.Reason}, nil
	})
}

func (s *Server) approveExtension(c *gin.Context) {
	var req ExtensionDecisionRequest
	s.dealMessage(c, workflows.DealApproveExtension, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.ExtensionDecision{Actor: actor, Reason: req.Reason, Days: req.Days}, nil
	})
}

func (s *Server) rejectExtension(c *gin.Context) {
	var req ReasonRequest
	s.dealMessage(c, workflows.DealRejectExtension, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.ExtensionDecision{Actor: actor, Reason: req.Reason}, nil
	})
}

func (s *Server) setDealStage(c *gin.Context) {
	var req StageRequest
	s.dealMessage(c, workflows.DealSetStage, &req, func() string { return "stage " + req.Stage }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealUpdate{Actor: actor, Stage: req.Stage}, nil
	})
}

// winDeal: a partner reports the deal won (a manager confirms it, unless the
// program auto-confirms it); a manager's own report is the vendor's word.
func (s *Server) winDeal(c *gin.Context) {
	var req WonRequest
	s.dealMessage(c, workflows.DealWin, &req, func() string { return "won at " + req.FinalAmount.String() }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealUpdate{Actor: actor, FinalAmount: req.FinalAmount.dec(), Confirmed: caller(c).Role == domain.RoleManager}, nil
	})
}

type WonDecisionRequest struct {
	Reason      string  `json:"reason" validate:"max=2000"`
	FinalAmount *Amount `json:"final_amount"`
}

// confirmWon: a manager confirms a reported win, at the reported amount or the
// one the vendor's records say; the margin line is made from it.
func (s *Server) confirmWon(c *gin.Context) {
	var req WonDecisionRequest
	s.dealMessage(c, workflows.DealConfirmWon, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.WonDecision{Actor: actor, Reason: req.Reason, FinalAmount: req.FinalAmount.dec()}, nil
	})
}

// rejectWon: a manager rejects a reported win (with a reason); the deal stays protected.
func (s *Server) rejectWon(c *gin.Context) {
	var req ReasonRequest
	s.dealMessage(c, workflows.DealRejectWon, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.WonDecision{Actor: actor, Reason: req.Reason}, nil
	})
}

func (s *Server) loseDeal(c *gin.Context) {
	var req ReasonRequest
	s.dealMessage(c, workflows.DealLose, &req, func() string { return req.Reason }, func(_ db.Deal, actor string) (any, error) {
		return workflows.DealUpdate{Actor: actor, Reason: req.Reason}, nil
	})
}

// reverseMargin takes a won deal's margin back (the sale was cancelled, the
// customer never paid): a margin no close has frozen is voided; a frozen or paid
// one gets a clawback that the next close (or the open close holding it) nets.
func (s *Server) reverseMargin(c *gin.Context) {
	d, err := s.dealFor(c)
	var req ReasonRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil && d.Status != domain.DealWon {
		err = domain.Conflict("not_won", "only a won deal's margin is reversed; this deal is %s", d.Status)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		lines, err := q.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "deal", SourceID: d.ID})
		if err != nil {
			return answer{}, err
		}
		reversed := false
		for _, l := range lines {
			if l.Kind != "deal_margin" {
				reversed = reversed || l.Kind == "clawback"
				continue
			}
			if l, err = q.LockLine(ctx, l.ID); err != nil {
				return answer{}, err
			}
			if l.Status == "void" {
				reversed = true
				continue
			}
			if !domain.LineFrozen(l.Status, l.CloseID.Valid) {
				_, err = q.VoidLine(ctx, l.ID)
			} else {
				_, err = activities.ClawBack(ctx, q, l, l.Amount.Decimal, "deal", d.ID, "margin reversed: "+req.Reason, "deal/"+d.ID.String()+"/margin-reversal", time.Now().UTC())
			}
			if err != nil {
				return answer{}, err
			}
		}
		if reversed {
			return answer{}, domain.Conflict("already_reversed", "this deal's margin was reversed already")
		}
		if err := audit(ctx, c, q, "deal.reverse_margin", "deal", d.ID, req.Reason, nil); err != nil {
			return answer{}, err
		}
		v, err := s.dealView(ctx, d, nil)
		if err == nil {
			v.Lines, err = q.ListCommissionLinesBySource(ctx, db.ListCommissionLinesBySourceParams{SourceType: "deal", SourceID: d.ID})
		}
		return answer{Status: http.StatusOK, Body: v}, err
	})
}
