package api

import (
	"context"
	"errors"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/shopspring/decimal"
)

// MDF allocations: funds given to a partner for a quarter (by hand, or every tier's default at quarter start).

type AllocationRequest struct {
	PartnerID string  `json:"partner_id" validate:"required,uuid"`
	Quarter   string  `json:"quarter"` // default: the current quarter
	Amount    *Amount `json:"amount" validate:"required"`
}

type TierDefaultsRequest struct {
	ProgramID string `json:"program_id" validate:"required,uuid"`
	Quarter   string `json:"quarter"`
}

// allocate posts an allocation entry (key makes it idempotent) and starts the
// expiry workflow of a quarter allocated for the first time.
func (s *Server) allocate(ctx context.Context, q *db.Queries, p db.Partner, prog db.Program, quarter string, amount decimal.Decimal, key, memo string) (bool, error) {
	created, posted, err := activities.AllocateFunds(ctx, q, p.ID, p.ProgramID, prog.Currency, quarter, amount, key, memo)
	if err != nil || !created {
		return posted, err
	}
	err = starts.Record(ctx, q, workflows.MDFAllocationStart(workflows.MDFAllocationInput{PartnerID: p.ID, Quarter: quarter, GraceDays: int(prog.MDFGraceDays)}, p.ProgramID,
		domain.MDFAllocationSummary(p.Company, quarter)))
	return posted, err
}

func (s *Server) createAllocation(c *gin.Context) {
	var req AllocationRequest
	body, err := s.readJSON(c, &req)
	var quarter string
	if err == nil {
		quarter, err = s.quarterParam(req.Quarter)
	}
	var p db.Partner
	if err == nil {
		p, err = s.loadPartner(c.Request.Context(), uuid.MustParse(req.PartnerID))
		if de, ok := domain.AsError(err); ok && de.Kind == domain.KindNotFound {
			err = domain.Invalid("partner_id", "unknown_partner", "no partner with that id")
		}
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
		if !domain.ValidAmount(req.Amount.Decimal, prog.Currency) {
			return answer{}, domain.Invalid("amount", "invalid", "amount must be a positive amount in %s", prog.Currency)
		}
		if _, err := s.allocate(ctx, q, p, prog, quarter, req.Amount.Decimal, "allocation/"+uuid.NewString(), "allocated by "+caller(c).Actor()); err != nil {
			return answer{}, err
		}
		b, err := balanceView(ctx, q, p.ID, quarter, prog.Currency)
		return answer{Status: http.StatusCreated, Body: b}, err
	})
}

// applyTierDefaults allocates each active partner of the program its tier's
// quarterly MDF amount, once per partner and quarter.
func (s *Server) applyTierDefaults(c *gin.Context) {
	var req TierDefaultsRequest
	body, err := s.readJSON(c, &req)
	var quarter string
	if err == nil {
		quarter, err = s.quarterParam(req.Quarter)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	programID := uuid.MustParse(req.ProgramID)
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		prog, err := q.GetProgram(ctx, programID)
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
		}
		if err != nil {
			return answer{}, err
		}
		tiers, err := q.ListTiers(ctx, programID)
		if err != nil {
			return answer{}, err
		}
		status := domain.StatusActive
		allocated := 0
		for after := (uuid.NullUUID{}); ; {
			partners, err := q.ListPartners(ctx, db.ListPartnersParams{Limit: 500, Status: &status, ProgramID: uuid.NullUUID{UUID: programID, Valid: true}, After: after})
			if err != nil {
				return answer{}, err
			}
			for _, p := range partners {
				i := slices.IndexFunc(tiers, func(t db.Tier) bool { return t.ID == p.TierID })
				if i < 0 || !tiers[i].MDFQuarterlyAllocation.IsPositive() {
					continue
				}
				posted, err := s.allocate(ctx, q, p, prog, quarter, tiers[i].MDFQuarterlyAllocation.Decimal,
					"tier-default/"+p.ID.String()+"/"+quarter, "tier "+tiers[i].Name+" default for "+quarter)
				if err != nil {
					return answer{}, err
				}
				if posted {
					allocated++
				}
			}
			if len(partners) < 500 {
				break
			}
			after = uuid.NullUUID{UUID: partners[len(partners)-1].ID, Valid: true}
		}
		return answer{Status: http.StatusOK, Body: gin.H{"quarter": quarter, "partners_allocated": allocated}}, nil
	})
}
