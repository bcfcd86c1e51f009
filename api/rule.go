package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// Commission rules: effective-dated, at program, tier or partner level (partner > tier > program).

type RuleRequest struct {
	ProgramID       string              `json:"program_id" validate:"required,uuid"`
	TierID          string              `json:"tier_id" validate:"omitempty,uuid"`
	PartnerID       string              `json:"partner_id" validate:"omitempty,uuid"`
	Event           string              `json:"event" validate:"required,oneof=sale lead"`
	Kind            string              `json:"kind" validate:"required,oneof=percent flat"`
	Rate            *Rate               `json:"rate"`
	Amount          *Amount             `json:"amount"`
	VolumeTiers     []domain.VolumeTier `json:"volume_tiers" validate:"max=20"`
	Recurring       string              `json:"recurring" validate:"omitempty,oneof=none months lifetime"`
	RecurringMonths int32               `json:"recurring_months" validate:"min=0,max=120"`
	EffectiveFrom   *time.Time          `json:"effective_from"`
	EffectiveTo     *time.Time          `json:"effective_to"`
}

// createRule adds an effective-dated commission rule at program, tier or partner level.
func (s *Server) createRule(c *gin.Context) {
	var req RuleRequest
	body, err := s.readJSON(c, &req)
	if err == nil {
		err = validateRule(&req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		programID := uuid.MustParse(req.ProgramID)
		prog, err := q.GetProgram(ctx, programID)
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
		}
		if err != nil {
			return answer{}, err
		}
		params := db.CreateCommissionRuleParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, Event: req.Event, Kind: req.Kind,
			Recurring: req.Recurring, RecurringMonths: req.RecurringMonths, EffectiveFrom: *req.EffectiveFrom, EffectiveTo: req.EffectiveTo}
		if req.Rate != nil {
			params.Rate = domain.NewNumeric(req.Rate.Decimal)
		}
		if req.Amount != nil {
			if !domain.ValidAmount(req.Amount.Decimal, prog.Currency) {
				return answer{}, domain.Invalid("amount", "invalid", "amount must be a positive amount in %s", prog.Currency)
			}
			params.Amount = domain.NewNumeric(req.Amount.Decimal)
		}
		params.VolumeTiers, _ = json.Marshal(req.VolumeTiers)
		if req.TierID != "" {
			t, err := q.GetTier(ctx, uuid.MustParse(req.TierID))
			if err != nil || t.ProgramID != programID {
				return answer{}, domain.Invalid("tier_id", "unknown_tier", "no tier with that id in the program")
			}
			params.TierID = uuid.NullUUID{UUID: t.ID, Valid: true}
		}
		if req.PartnerID != "" {
			p, err := q.GetPartner(ctx, uuid.MustParse(req.PartnerID))
			if err != nil || p.ProgramID != programID {
				return answer{}, domain.Invalid("partner_id", "unknown_partner", "no partner with that id in the program")
			}
			params.PartnerID = uuid.NullUUID{UUID: p.ID, Valid: true}
		}
		r, err := q.CreateCommissionRule(ctx, params)
		if err != nil {
			return answer{}, err
		}
		s.rules.forget(programID)
		if err := audit(ctx, c, q, "program.add_commission_rule", "program", programID, "", gin.H{"rule_id": r.ID, "request": json.RawMessage(body)}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: r}, nil
	})
}

func validateRule(req *RuleRequest) error {
	if req.Recurring == "" {
		req.Recurring = "none"
	}
	if req.EffectiveFrom == nil {
		now := time.Now()
		req.EffectiveFrom = &now
	}
	switch {
	case req.TierID != "" && req.PartnerID != "":
		return domain.Invalid("partner_id", "invalid", "a rule is for a tier or for a partner, not both")
	case req.Kind == "percent" && (req.Rate == nil || !req.Rate.IsPositive() || req.Rate.GreaterThan(domainOne) || req.Rate.Exponent() < -4):
		return domain.Invalid("rate", "invalid", "a percent rule needs a rate from 0 to 1 (0.2 is 20%%), at most 4 decimals")
	case req.Kind == "flat" && req.Amount == nil:
		return domain.Invalid("amount", "required", "a flat rule needs an amount")
	case req.Recurring == "months" && req.RecurringMonths < 1:
		return domain.Invalid("recurring_months", "invalid", "recurring for months needs recurring_months")
	case req.EffectiveTo != nil && !req.EffectiveTo.After(*req.EffectiveFrom):
		return domain.Invalid("effective_to", "invalid", "effective_to must be after effective_from")
	}
	for _, t := range req.VolumeTiers {
		if t.FromCount < 1 || !t.Rate.IsPositive() || t.Rate.GreaterThan(domainOne) {
			return domain.Invalid("volume_tiers", "invalid", "each volume tier has from_count ≥ 1 and a rate from 0 to 1")
		}
	}
	return nil
}

func (s *Server) listRules(c *gin.Context) {
	id, err := uuid.Parse(c.Query("program_id"))
	if err != nil {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "program_id (a UUID) is required", "program_id"))
		return
	}
	rows, err := s.store.ListCommissionRules(c.Request.Context(), id)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": rows, "has_more": false}) // whole: a program has tens of rules
}
