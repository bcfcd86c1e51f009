package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// MDFPolicy is what an MDF request's process needs, read once at its start.
type MDFPolicy struct {
	ApprovalSLA time.Duration   `json:"approval_sla"`
	ClaimWindow time.Duration   `json:"claim_window"`
	ProofWindow time.Duration   `json:"proof_window"`
	ActivityEnd time.Time       `json:"activity_end"` // the end of the activity's last day
	Requested   decimal.Decimal `json:"requested"`
	Currency    string          `json:"currency"`
	Quarter     string          `json:"quarter"`
}

func (a *Activities) LoadMDFPolicy(ctx context.Context, requestID uuid.UUID) (MDFPolicy, error) {
	r, err := a.Store.GetMDFRequest(ctx, requestID)
	if errors.Is(err, pgx.ErrNoRows) { // started after its row commits: it never appears later
		return MDFPolicy{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("MDF request %s does not exist", requestID), "not_found", err)
	}
	if err != nil {
		return MDFPolicy{}, err
	}
	prog, err := a.Store.GetProgram(ctx, r.ProgramID)
	if err != nil {
		return MDFPolicy{}, err
	}
	return MDFPolicy{
		ApprovalSLA: time.Duration(prog.MDFApprovalSLAHours) * time.Hour,
		ClaimWindow: time.Duration(prog.MDFClaimWindowDays) * 24 * time.Hour,
		ProofWindow: time.Duration(prog.MDFProofWindowDays) * 24 * time.Hour,
		ActivityEnd: r.EndDate.AddDate(0, 0, 1), Requested: r.RequestedAmount.Decimal, Currency: r.Currency, Quarter: r.Quarter,
	}, nil
}

// MDFChangeKind names a step of the MDF process: the workflow records it, RecordMDFChange
// carries it out, and it is the kind of the timeline event. One list, shared.
type MDFChangeKind string

const (
	MDFChangePreApproved    MDFChangeKind = "pre_approved"
	MDFChangeRejected       MDFChangeKind = "rejected"
	MDFChangeWithdrawn      MDFChangeKind = "withdrawn"
	MDFChangeClaimed        MDFChangeKind = "claimed"
	MDFChangeProofRequested MDFChangeKind = "proof_requested"
	MDFChangeClaimApproved  MDFChangeKind = "claim_approved"
	MDFChangeClaimRejected  MDFChangeKind = "claim_rejected"
	MDFChangeExpired        MDFChangeKind = "expired"
)

// MDFChange is one step of an MDF request: the funds it moves (if any), the
// request's new status and the timeline event, in one transaction.
type MDFChange struct {
	RequestID uuid.UUID     `json:"request_id"`
	EventKey  string        `json:"event_key"`
	Kind      MDFChangeKind `json:"kind"` // pre_approved, rejected, withdrawn, claimed, proof_requested, claim_approved, claim_rejected, expired
	Status    string        `json:"status"`
	Actor     string        `json:"actor"`
	Reason    string        `json:"reason"`
	At        time.Time     `json:"at"`

	// Amounts as the workflow knows them.
	Reserved  decimal.Decimal  `json:"reserved"` // still reserved (before pre-approval)
	Approved  decimal.Decimal  `json:"approved"` // approved and not claimed
	Claimed   decimal.Decimal  `json:"claimed"`  // claimed and not reviewed
	Amount    decimal.Decimal  `json:"amount"`   // the decision's amount: approved, claimed or accepted
	Unclaim   decimal.Decimal  `json:"unclaim"`  // a resubmitted claim returns the earlier one first
	Results   map[string]int64 `json:"results,omitempty"`
	Deadline  *time.Time       `json:"deadline,omitempty"` // the claim or proof deadline this step sets
	FileCount int              `json:"file_count,omitempty"`
}

func (a *Activities) RecordMDFChange(ctx context.Context, c MDFChange) error {
	return a.Store.InTx(ctx, func(q *db.Queries) error {
		r, err := q.GetMDFRequest(ctx, c.RequestID)
		if err != nil {
			return err
		}
		// The allocation row serialises every movement of this partner's quarter.
		alloc, err := q.LockAllocation(ctx, db.LockAllocationParams{PartnerID: r.PartnerID, Quarter: r.Quarter})
		if err != nil {
			return fmt.Errorf("lock allocation: %w", err)
		}
		bal, err := q.Balances(ctx, r.PartnerID, r.Quarter)
		if err != nil {
			return err
		}
		expired := alloc.ExpiredAt != nil
		var entries []domain.Entry
		add := func(e domain.Entry, err error) error {
			if err != nil {
				return err
			}
			bal.Apply(e)
			entries = append(entries, e)
			return nil
		}
		upd := db.UpdateMDFRequestParams{ID: r.ID, Status: c.Status, CloseReason: nilIfEmpty(c.Reason)}
		switch c.Kind {
		case MDFChangePreApproved:
			err = add(domain.PreApprove(bal, c.Reserved, c.Amount, expired))
			upd.ApprovedAmount, upd.ClaimDeadline, upd.CloseReason = domain.NewNullNumeric(&c.Amount), c.Deadline, nil
		case MDFChangeRejected, MDFChangeWithdrawn:
			err = add(domain.Release(bal, domain.AccReserved, c.Reserved, expired))
		case MDFChangeClaimed:
			if c.Unclaim.IsPositive() {
				err = add(domain.Unclaim(bal, c.Unclaim))
			}
			if err == nil {
				err = add(domain.Claim(bal, c.Amount))
			}
			results, _ := json.Marshal(c.Results)
			upd.ClaimedAmount, upd.Results, upd.CloseReason = domain.NewNullNumeric(&c.Amount), results, nil
		case MDFChangeProofRequested:
			upd.ProofDeadline = c.Deadline
		case MDFChangeClaimApproved:
			err = add(domain.ApproveClaim(bal, c.Claimed, c.Amount, c.Approved, expired))
			upd.ReimbursedAmount, upd.CloseReason = domain.NewNullNumeric(&c.Amount), nil
			if err == nil {
				err = q.CreateCommissionLine(ctx, db.CreateCommissionLineParams{
					ID: uuid.Must(uuid.NewV7()), ProgramID: r.ProgramID, PartnerID: r.PartnerID, Kind: "mdf_reimbursement",
					SourceType: "mdf_request", SourceID: r.ID, Amount: domain.NewNumeric(c.Amount), Currency: r.Currency, Status: "payable",
					Description: fmt.Sprintf("MDF reimbursement: %s (%s)", r.Description, r.ActivityType), OccurredAt: c.At,
					DedupeKey: "mdf_request/" + r.ID.String() + "/reimbursement",
				})
			}
		case MDFChangeClaimRejected, MDFChangeExpired:
			if c.Claimed.IsPositive() {
				err = add(domain.Release(bal, domain.AccClaimed, c.Claimed, expired))
			}
			if err == nil && c.Approved.IsPositive() {
				err = add(domain.Release(bal, domain.AccApproved, c.Approved, expired))
			}
		default:
			return temporal.NewNonRetryableApplicationError("unknown MDF change "+string(c.Kind), "invalid", nil)
		}
		if err != nil {
			// The workflow tracks the amounts; a ledger that disagrees is a bug to look at, not to retry.
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", c.Kind, err), "ledger", err)
		}
		for i, e := range entries {
			if _, err := q.PostEntry(ctx, db.Posting{Key: fmt.Sprintf("%s/%d", c.EventKey, i), PartnerID: r.PartnerID, Quarter: r.Quarter,
				RequestID: uuid.NullUUID{UUID: r.ID, Valid: true}, Currency: r.Currency, Memo: string(c.Kind) + ": " + c.Reason, At: c.At}, e); err != nil {
				return err
			}
		}
		if err := q.UpdateMDFRequest(ctx, upd); err != nil {
			return err
		}
		return q.RecordMDFEvent(ctx, db.RecordMDFEventParams{RequestID: r.ID, EventKey: c.EventKey, Kind: string(c.Kind), Actor: c.Actor, Reason: c.Reason, OccurredAt: c.At})
	})
}

// ExpireAllocation moves what is still available of a partner's quarter to
// expired, and marks the quarter so later releases expire too.
func (a *Activities) ExpireAllocation(ctx context.Context, partnerID uuid.UUID, quarter string, at time.Time) (decimal.Decimal, error) {
	var expired decimal.Decimal
	err := a.Store.InTx(ctx, func(q *db.Queries) error {
		alloc, err := q.LockAllocation(ctx, db.LockAllocationParams{PartnerID: partnerID, Quarter: quarter})
		if err != nil {
			return err
		}
		if alloc.ExpiredAt != nil { // already done (a retry)
			return nil
		}
		bal, err := q.Balances(ctx, partnerID, quarter)
		if err != nil {
			return err
		}
		if e, ok := domain.Expire(bal); ok {
			expired = bal[domain.AccAvailable]
			if _, err := q.PostEntry(ctx, db.Posting{Key: "mdf-allocation/" + partnerID.String() + "/" + quarter + "/expire", PartnerID: partnerID,
				Quarter: quarter, Currency: alloc.Currency, Memo: "unused funds expired", At: at}, e); err != nil {
				return err
			}
		}
		return q.MarkAllocationExpired(ctx, db.MarkAllocationExpiredParams{PartnerID: partnerID, Quarter: quarter, ExpiredAt: &at})
	})
	return expired, err
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ReimburseMDF records that a payout paid an MDF request's reimbursement: the
// ledger moves the amount from reimbursable to reimbursed (once, by the payout's
// key), and the request is reimbursed — its final state.
func ReimburseMDF(ctx context.Context, q *db.Queries, requestID uuid.UUID, amount decimal.Decimal, payoutID uuid.UUID, at time.Time) error {
	r, err := q.GetMDFRequest(ctx, requestID)
	if err != nil {
		return fmt.Errorf("reimburse MDF request %s: %w", requestID, err)
	}
	bal, err := q.Balances(ctx, r.PartnerID, r.Quarter)
	if err != nil {
		return err
	}
	e, err := domain.Reimburse(bal, amount)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("reimburse MDF request %s: %v", requestID, err), ErrPermanent, err)
	}
	if _, err := q.PostEntry(ctx, db.Posting{Key: "mdf/" + r.ID.String() + "/reimbursed/" + payoutID.String(), PartnerID: r.PartnerID, Quarter: r.Quarter,
		RequestID: uuid.NullUUID{UUID: r.ID, Valid: true}, Currency: r.Currency, Memo: "paid by payout " + payoutID.String(), At: at}, e); err != nil {
		return err
	}
	return q.MarkMDFReimbursed(ctx, r.ID)
}
