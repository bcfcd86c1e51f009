package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
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

// PayoutDetailsView shows payout details masked: nobody reads a full account
// number back, not even its owner.
type PayoutDetailsView struct {
	PartnerID        uuid.UUID `json:"partner_id"`
	Method           *string   `json:"method"`
	Holder           *string   `json:"holder"`
	Destination      string    `json:"destination"` // masked
	HeldForReview    bool      `json:"held_for_review"`
	ChangedAt        any       `json:"changed_at"`
	ConfirmedAt      any       `json:"confirmed_at"`
	ConfirmByFinance string    `json:"confirm_by_finance,omitempty"`
}

func payoutDetailsView(p db.Partner) PayoutDetailsView {
	v := PayoutDetailsView{PartnerID: p.ID, Method: p.PayoutMethod, Holder: p.PayoutHolder, ChangedAt: p.PayoutDetailsChangedAt, ConfirmedAt: p.PayoutDetailsConfirmedAt}
	if p.PayoutDestination != nil {
		v.Destination = domain.MaskDestination(*p.PayoutDestination)
	}
	v.HeldForReview = p.PayoutDetailsChangedAt != nil && (p.PayoutDetailsConfirmedAt == nil || p.PayoutDetailsConfirmedAt.Before(*p.PayoutDetailsChangedAt))
	if v.HeldForReview {
		v.ConfirmByFinance = "the details changed: the next payout waits until finance confirms them (POST /v1/partners/" + p.ID.String() + "/payout-details/confirm)"
	}
	return v
}

// maskPartner hides where a partner is paid in every answer that shows a partner.
func maskPartner(p db.Partner) db.Partner {
	if p.PayoutDestination != nil {
		m := domain.MaskDestination(*p.PayoutDestination)
		p.PayoutDestination = &m
	}
	return p
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

// setPayoutDetails: the partner says where it is paid. A change of existing
// details is an audit event, tells the partner, and holds the next payout until
// finance confirms the new details.
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
		p, err := q.SetPayoutDetails(ctx, db.SetPayoutDetailsParams{ID: partnerID, Method: &req.Method, Holder: &holder, Destination: &destination})
		if err != nil {
			return answer{}, err
		}
		v := payoutDetailsView(p)
		if err := audit(ctx, c, q, "partner.set_payout_details", "partner", p.ID, "", gin.H{"method": req.Method, "destination": v.Destination, "held_for_review": v.HeldForReview}); err != nil {
			return answer{}, err
		}
		msg := fmt.Sprintf("Your payout details were set: %s %s.", req.Method, v.Destination)
		if v.HeldForReview {
			msg = fmt.Sprintf("Your payout details were changed to %s %s. If this was not you, contact us at once: the next payout waits until we confirm the change.", req.Method, v.Destination)
		}
		if err := q.CreateNotification(ctx, db.CreateNotificationParams{DedupeKey: "payout-details/" + p.ID.String() + "/" + uuid.NewString(),
			Kind: "payout_details_changed", Recipient: p.ID.String(), SubjectType: "partner", SubjectID: p.ID, Message: msg}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusOK, Body: v}, nil
	})
}

func (s *Server) getPayoutDetails(c *gin.Context) {
	p, err := s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, payoutDetailsView(p))
}

// confirmPayoutDetails: finance confirms changed details (having checked with the
// partner out of band); an open close of the program is recomputed at once.
func (s *Server) confirmPayoutDetails(c *gin.Context) {
	p, err := s.partnerFor(c)
	if err == nil && p.PayoutMethod == nil {
		err = domain.Conflict("no_payout_details", "the partner has no payout details to confirm")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, []byte(p.ID.String()), func(ctx context.Context, q *db.Queries) (answer, error) {
		fresh, err := q.ConfirmPayoutDetails(ctx, p.ID)
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "partner.confirm_payout_details", "partner", p.ID, "", nil); err != nil {
			return answer{}, err
		}
		closes, err := q.OpenClosesOfProgram(ctx, p.ProgramID)
		if err != nil {
			return answer{}, err
		}
		for _, cl := range closes {
			if cl, err = q.LockClose(ctx, cl.ID); err != nil {
				return answer{}, err
			}
			if cl.Status == "review" {
				if err := activities.ComputeStatements(ctx, q, cl); err != nil {
					return answer{}, err
				}
			}
		}
		return answer{Status: http.StatusOK, Body: payoutDetailsView(fresh)}, nil
	})
}
