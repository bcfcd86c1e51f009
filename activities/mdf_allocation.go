package activities

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// Allocation is a partner's quarter whose expiry workflow must run.
type Allocation struct {
	PartnerID  uuid.UUID `json:"partner_id"`
	ProgramID  uuid.UUID `json:"program_id"`
	Quarter    string    `json:"quarter"`
	GraceDays  int       `json:"grace_days"`
	WorkflowID string    `json:"workflow_id"`
	Summary    string    `json:"summary,omitempty"` // its workflow's, in the Temporal UI
}

// AllocateFunds posts an allocation entry (once per key) to a partner's quarter,
// creating the quarter's allocation row if needed. created reports a new row,
// whose expiry workflow the caller starts. Used by the API and the quarterly
// tier defaults.
func AllocateFunds(ctx context.Context, q *db.Queries, partnerID, programID uuid.UUID, currency, quarter string, amount decimal.Decimal, key, memo string) (created, posted bool, err error) {
	row, err := q.CreateAllocation(ctx, db.CreateAllocationParams{PartnerID: partnerID, Quarter: quarter, ProgramID: programID, Currency: currency,
		WorkflowID: ids.MDFAllocation(partnerID, quarter)})
	if err != nil {
		return false, false, err
	}
	alloc, err := q.LockAllocation(ctx, db.LockAllocationParams{PartnerID: partnerID, Quarter: quarter})
	if err != nil {
		return row.Created, false, err
	}
	if alloc.ExpiredAt != nil {
		return row.Created, false, domain.Conflict("quarter_expired", "the funds of %s have expired", quarter)
	}
	e, err := domain.Allocate(amount)
	if err != nil {
		return row.Created, false, domain.Invalid("amount", "invalid", "%v", err)
	}
	posted, err = q.PostEntry(ctx, db.Posting{Key: key, PartnerID: partnerID, Quarter: quarter, Currency: currency, Memo: memo, At: time.Now()}, e)
	return row.Created, posted, err
}

// ApplyTierDefaults allocates every active partner its tier's quarterly MDF
// amount, once per partner and quarter, and returns the new allocations.
func (a *Activities) ApplyTierDefaults(ctx context.Context, quarter string, programID uuid.NullUUID) ([]Allocation, error) {
	var out []Allocation
	err := a.Store.InTx(ctx, func(q *db.Queries) error {
		rows, err := q.TierDefaultCandidates(ctx, programID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			created, _, err := AllocateFunds(ctx, q, r.PartnerID, r.ProgramID, r.Currency, quarter, r.MDFQuarterlyAllocation.Decimal,
				"tier-default/"+r.PartnerID.String()+"/"+quarter, "tier "+r.Tier+" default for "+quarter)
			if err != nil {
				return err
			}
			if created {
				out = append(out, Allocation{PartnerID: r.PartnerID, ProgramID: r.ProgramID, Quarter: quarter, GraceDays: int(r.MDFGraceDays),
					WorkflowID: ids.MDFAllocation(r.PartnerID, quarter), Summary: domain.MDFAllocationSummary(r.Company, quarter)})
			}
		}
		return nil
	})
	return out, err
}
