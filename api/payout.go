package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
)

// PayoutDetailsRequest is where a partner wants to be paid: a bank account
// (holder, IBAN, BIC), a PayPal e-mail, or an account at the payments provider.
type PayoutDetailsRequest struct {
	Method    string `json:"method" validate:"required,oneof=bank paypal provider"`
	Holder    string `json:"holder" validate:"max=200"`
	IBAN      string `json:"iban" validate:"max=42"`
	BIC       string `json:"bic" validate:"max=11"`
	Email     string `json:"email" validate:"max=254"`
	AccountID string `json:"account_id" validate:"max=80"`
}

// PayoutDetailsView shows a version of payout details masked: nobody reads a
// full account number back, not even its owner.
type PayoutDetailsView struct {
	PartnerID        uuid.UUID  `json:"partner_id"`
	Version          int32      `json:"version,omitempty"` // 0: none given yet
	Method           *string    `json:"method"`
	Holder           *string    `json:"holder"`
	Destination      string     `json:"destination"` // masked
	HeldForReview    bool       `json:"held_for_review"`
	ChangedAt        *time.Time `json:"changed_at"` // when a change (version 2 on) was made
	ConfirmedAt      *time.Time `json:"confirmed_at"`
	ConfirmedBy      *string    `json:"confirmed_by"`
	ConfirmByFinance string     `json:"confirm_by_finance,omitempty"`
}

func payoutDetailsView(partnerID uuid.UUID, d *db.PayoutDetail) PayoutDetailsView {
	v := PayoutDetailsView{PartnerID: partnerID}
	if d == nil {
		return v
	}
	dest := domain.MaskDestination(d.Destination)
	v.Version, v.Method, v.Holder, v.Destination, v.ConfirmedAt, v.ConfirmedBy = d.Version, &d.Method, &d.Holder, dest, d.ConfirmedAt, d.ConfirmedBy
	if d.Version > 1 {
		v.ChangedAt = &d.CreatedAt
	}
	v.HeldForReview = d.ConfirmedAt == nil
	if v.HeldForReview {
		v.ConfirmByFinance = fmt.Sprintf("the details changed: payouts wait until finance confirms version %d (POST /v1/partners/%s/payout-details/confirm)", d.Version, partnerID)
	}
	return v
}

// latestPayoutDetails answers nil when the partner has given none.
func latestPayoutDetails(ctx context.Context, q *db.Queries, partnerID uuid.UUID) (*db.PayoutDetail, error) {
	d, err := q.LatestPayoutDetails(ctx, partnerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func validatePayoutDetails(req *PayoutDetailsRequest) (holder, destination string, err error) {
	holder = strings.TrimSpace(req.Holder)
	switch req.Method {
	case domain.PayoutBank:
		iban, bic := domain.NormalizeIBAN(req.IBAN), strings.ToUpper(strings.TrimSpace(req.BIC))
		switch {
		case holder == "":
			return "", "", domain.Invalid("holder", "required", "a bank account needs its holder's name")
		case !domain.ValidIBAN(iban):
			return "", "", domain.Invalid("iban", "invalid", "iban is not a valid IBAN (its check digits do not match)")
		case bic != "" && !domain.ValidBIC(bic):
			return "", "", domain.Invalid("bic", "invalid", "bic must be an 8 or 11 character BIC such as COBADEFFXXX")
		case req.Email != "" || req.AccountID != "":
			return "", "", domain.Invalid("method", "mixed", "a bank account takes holder, iban and bic only")
		}
		destination = iban
		if bic != "" {
			destination += " " + bic
		}
	case domain.PayoutPayPal:
		if !domain.ValidEmail(req.Email) || req.IBAN != "" || req.AccountID != "" {
			return "", "", domain.Invalid("email", "invalid", "PayPal payouts take the account's e-mail only")
		}
		destination = strings.ToLower(req.Email)
	case domain.PayoutProvider:
		if !domain.ValidProviderAccount(req.AccountID) || req.IBAN != "" || req.Email != "" {
			return "", "", domain.Invalid("account_id", "invalid", "account_id must be the provider's account id, such as acct_1Nv0FGQ9RKHgCVdK")
		}
		destination = req.AccountID
	}
	return holder, destination, nil
}

// setPayoutDetails: the partner says where it is paid. Each change is a new
// version; a change of existing details is an audit event, tells the partner,
// recomputes the program's open closes (their statements hold the partner's
// payout until finance confirms) and holds any payout not yet sent.
func (s *Server) setPayoutDetails(c *gin.Context) {
	var req PayoutDetailsRequest
	body, err := s.readJSON(c, &req)
	var holder, destination string
	if err == nil {
		holder, destination, err = validatePayoutDetails(&req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	partnerID := caller(c).PartnerID
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		p, err := q.LockPartnerForPayoutDetails(ctx, partnerID)
		if err != nil {
			return answer{}, err
		}
		prev, err := latestPayoutDetails(ctx, q, p.ID)
		if err != nil {
			return answer{}, err
		}
		if prev != nil && prev.Method == req.Method && prev.Holder == holder && prev.Destination == destination {
			return answer{Status: http.StatusOK, Body: payoutDetailsView(p.ID, prev)}, nil // the same details again: no new version
		}
		// The program's open closes are locked before the version is written, so none
		// computes its statements between this version and their recomputation.
		closes, err := lockOpenCloses(ctx, q, p.ProgramID)
		if err != nil {
			return answer{}, err
		}
		d, err := q.AddPayoutDetails(ctx, db.AddPayoutDetailsParams{ID: uuid.Must(uuid.NewV7()), PartnerID: p.ID, Method: req.Method, Holder: holder,
			Destination: destination, CreatedBy: caller(c).Actor()})
		if err != nil {
			return answer{}, err
		}
		v := payoutDetailsView(p.ID, &d)
		if err := audit(ctx, c, q, "partner.set_payout_details", "partner", p.ID, "", gin.H{"version": d.Version, "method": req.Method, "destination": v.Destination, "held_for_review": v.HeldForReview}); err != nil {
			return answer{}, err
		}
		if v.HeldForReview {
			if err := recomputeCloses(ctx, q, closes); err != nil {
				return answer{}, err
			}
		}
		msg := fmt.Sprintf("Your payout details were set: %s %s.", req.Method, v.Destination)
		if v.HeldForReview {
			msg = fmt.Sprintf("Your payout details were changed to %s %s. If this was not you, contact us at once: payouts wait until we confirm the change.", req.Method, v.Destination)
		}
		if err := q.CreateNotification(ctx, db.CreateNotificationParams{DedupeKey: "payout-details/" + p.ID.String() + "/" + uuid.NewString(),
			Kind: "payout_details_changed", Recipient: p.ID.String(), SubjectType: "partner", SubjectID: p.ID, Message: msg}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusOK, Body: v}, nil
	})
}

// lockOpenCloses locks the program's closes whose statements may still change
// (computing or in review), oldest first.
func lockOpenCloses(ctx context.Context, q *db.Queries, programID uuid.UUID) ([]db.Close, error) {
	closes, err := q.OpenClosesOfProgram(ctx, programID)
	for i := range closes {
		if err != nil {
			break
		}
		closes[i], err = q.LockClose(ctx, closes[i].ID)
	}
	return closes, err
}

// recomputeCloses recomputes the statements of the locked closes still open.
// A close still computing has no statements until its compute (which waits for
// this lock) writes them; recomputing it now is harmless.
func recomputeCloses(ctx context.Context, q *db.Queries, closes []db.Close) error {
	for _, cl := range closes {
		if cl.Status == domain.CloseComputing || cl.Status == domain.CloseReview {
			if err := activities.ComputeStatements(ctx, q, cl); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) getPayoutDetails(c *gin.Context) {
	ctx := c.Request.Context()
	partnerID := caller(c).PartnerID
	d, err := latestPayoutDetails(ctx, s.store.Queries, partnerID)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, payoutDetailsView(partnerID, d))
}

// ConfirmPayoutDetailsRequest names the version finance checked with the
// partner; a newer change since is not confirmed by mistake (409).
type ConfirmPayoutDetailsRequest struct {
	Version int32 `json:"version" validate:"omitempty,min=1"`
}

// confirmPayoutDetails: finance confirms changed details (having checked with the
// partner out of band). The program's open closes are recomputed at once, and
// the partner's held payouts are told to go on, after the commit.
func (s *Server) confirmPayoutDetails(c *gin.Context) {
	p, err := s.partnerFor(c)
	var req ConfirmPayoutDetailsRequest
	var body []byte
	if err == nil {
		body, err = s.readOptionalJSON(c, &req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	var held []db.Payout
	s.write(c, append([]byte(p.ID.String()), body...), func(ctx context.Context, q *db.Queries) (answer, error) {
		if _, err := q.LockPartnerForPayoutDetails(ctx, p.ID); err != nil {
			return answer{}, err
		}
		closes, err := lockOpenCloses(ctx, q, p.ProgramID)
		if err != nil {
			return answer{}, err
		}
		d, err := latestPayoutDetails(ctx, q, p.ID)
		switch {
		case err != nil:
			return answer{}, err
		case d == nil:
			return answer{}, domain.Conflict("no_payout_details", "the partner has no payout details to confirm")
		case req.Version != 0 && req.Version != d.Version:
			return answer{}, domain.Conflict("stale_version", "version %d is not the partner's latest: version %d was given since; check it with the partner", req.Version, d.Version)
		case d.ConfirmedAt != nil:
			return answer{Status: http.StatusOK, Body: payoutDetailsView(p.ID, d)}, nil
		}
		confirmed, err := q.ConfirmPayoutDetails(ctx, db.ConfirmPayoutDetailsParams{ID: d.ID, Actor: ptr(caller(c).Actor())})
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "partner.confirm_payout_details", "partner", p.ID, "", gin.H{"version": confirmed.Version}); err != nil {
			return answer{}, err
		}
		if err := recomputeCloses(ctx, q, closes); err != nil {
			return answer{}, err
		}
		if held, err = q.HeldPayoutsOfPartner(ctx, p.ID); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusOK, Body: payoutDetailsView(p.ID, &confirmed)}, nil
	})
	// After the commit: each held payout's workflow prepares it again (a lost
	// signal is caught by the workflow's own periodic check).
	for _, h := range held {
		if err := s.temporal.SignalWorkflow(context.WithoutCancel(c.Request.Context()), h.WorkflowID, "", workflows.PayoutDetailsConfirmed, nil); err != nil {
			s.logger.Warn("payout details confirmed: signal held payout", "payout", h.ID, "error", err)
		}
	}
}

func (s *Server) payoutFor(c *gin.Context) (db.Payout, error) {
	return loadOwned(c, "payout", s.store.GetPayout, func(p db.Payout) uuid.UUID { return p.PartnerID })
}

// retryPayout starts a failed payout again, as a new attempt (a new provider
// idempotency key: the failed one would only replay its failure).
func (s *Server) retryPayout(c *gin.Context) {
	p, err := s.payoutFor(c)
	if err == nil && p.Status != domain.PayoutFailed {
		err = domain.Conflict("not_failed", "only a failed payout is retried; this one is %s", p.Status)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, []byte(p.ID.String()), func(ctx context.Context, q *db.Queries) (answer, error) {
		cl, err := q.GetClose(ctx, p.CloseID)
		if err != nil {
			return answer{}, err
		}
		partner, err := q.GetPartner(ctx, p.PartnerID)
		if err != nil {
			return answer{}, err
		}
		// One retry per attempt: the attempt's token makes a second request of
		// it (two at once, or one after it was made) a conflict.
		attempt := int(p.Attempts) + 1
		err = starts.RecordOnce(ctx, q, workflows.PayoutRetryStart(p.WorkflowID, workflows.PayoutInput{PayoutID: p.ID, Provider: p.Provider, Attempt: attempt}, p.PartnerID, cl.ProgramID,
			domain.PayoutSummary(p.Amount.Decimal, p.Currency, partner.Company)+fmt.Sprintf(", attempt %d", attempt)),
			uuid.NewSHA1(p.ID, []byte(fmt.Sprintf("attempt-%d", attempt))))
		if errors.Is(err, starts.ErrRequested) {
			return answer{}, domain.Conflict("in_progress", "the payout is being retried already")
		}
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "payout.retry", "payout", p.ID, "", gin.H{"attempt": p.Attempts + 1}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusAccepted, Body: gin.H{"payout_id": p.ID, "workflow_id": p.WorkflowID, "attempt": p.Attempts + 1}}, nil
	})
}

// markPayout records finance's word that a file payout was (or was not) paid.
func (s *Server) markPayout(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.payoutFor(c)
		var req DecisionRequest
		var body []byte
		if err == nil {
			body, err = s.readJSON(c, &req)
		}
		if err != nil {
			s.abort(c, err)
			return
		}
		var st workflows.PayoutState
		s.decide(c, decision{
			Record: "payout", RecordID: p.ID, WorkflowID: p.WorkflowID, Update: name, Reason: req.Reason, Body: body,
			Arg: func(json.RawMessage) (any, error) {
				return workflows.PayoutDecision{Actor: caller(c).Actor(), Reason: req.Reason}, nil
			},
			Result: &st,
			Ended:  func() error { return domain.Conflict("not_awaiting", "the payout is %s", p.Status) },
			// The Update answers once the workflow has settled the payout.
			Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
				fresh, err := s.store.GetPayout(ctx, p.ID)
				return answer{Status: http.StatusOK, Body: fresh}, err
			},
		})
	}
}

// paymentsWebhook takes the provider's signed confirmation and hands it to the
// payout's workflow as a Signal (a repeated confirmation changes nothing).
func (s *Server) paymentsWebhook(c *gin.Context) {
	body, err := s.readBody(c)
	if err == nil && len(s.cfg.PaymentsWebhookSecret) == 0 {
		err = newHTTPError(http.StatusServiceUnavailable, "unavailable", "payment webhooks are not configured", "")
	}
	if err == nil {
		if verr := domain.VerifySignature(c.GetHeader(SignatureHeader), body, [][]byte{s.cfg.PaymentsWebhookSecret}, time.Now(), 5*time.Minute); verr != nil {
			err = newHTTPError(http.StatusUnauthorized, "bad_signature", verr.Error(), SignatureHeader)
		}
	}
	var msg struct {
		TransferID string `json:"transfer_id" validate:"required"`
		Reference  string `json:"reference" validate:"required,uuid"`
		Status     string `json:"status" validate:"required,oneof=paid failed"`
	}
	if err == nil {
		err = decode(body, &msg)
	}
	var p db.Payout
	if err == nil {
		if p, err = s.store.GetPayout(c.Request.Context(), uuid.MustParse(msg.Reference)); errors.Is(err, pgx.ErrNoRows) {
			err = domain.NotFound("payout")
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	err = s.temporal.SignalWorkflow(c.Request.Context(), p.WorkflowID, "", workflows.PayoutProviderResult,
		activities.ProviderResult{Status: msg.Status, Ref: msg.TransferID})
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) { // a payout already settled: nothing to do
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true})
}

func ptr[T any](v T) *T { return &v }
