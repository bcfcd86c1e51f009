package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// CloseTotals summarises a close's statements.
type CloseTotals struct {
	Frozen     int64          `json:"frozen"`
	Statements int64          `json:"statements"`
	ToPay      int64          `json:"to_pay"`
	Total      domain.Numeric `json:"total"`
	Payable    domain.Numeric `json:"payable"`
	CarriedOut domain.Numeric `json:"carried_out"`
}

// ComputeClose freezes the period's payable lines into the close and computes
// every partner's statement set-based, in one transaction. Re-running it freezes
// nothing twice and recomputes the same statements.
func (a *Activities) ComputeClose(ctx context.Context, closeID uuid.UUID) (CloseTotals, error) {
	return heartbeating(ctx, func() (CloseTotals, error) { return a.computeClose(ctx, closeID) })
}

func (a *Activities) computeClose(ctx context.Context, closeID uuid.UUID) (CloseTotals, error) {
	var t CloseTotals
	now := nowUTC()
	err := a.Store.InTx(ctx, func(q *db.Queries) error {
		c, err := q.LockClose(ctx, closeID)
		if err != nil {
			return err
		}
		if t.Frozen, err = q.FreezeLines(ctx, db.FreezeLinesParams{CloseID: uuid.NullUUID{UUID: c.ID, Valid: true}, ProgramID: c.ProgramID, PeriodEnd: c.PeriodEnd, Now: &now}); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		if err := ComputeStatements(ctx, q, c); err != nil {
			return err
		}
		tot, err := q.CloseTotals(ctx, c.ID)
		t.Statements, t.ToPay, t.Total, t.Payable, t.CarriedOut = tot.Statements, tot.ToPay, tot.Total, tot.Payable, tot.CarriedOut
		return err
	})
	return t, err
}

// ComputeStatements (re)derives a close's statements from its frozen lines and
// the previous close's carry-over, with payout details as they stand now, and
// records what it read them at. The API uses it too: after an adjustment, a
// refund netted into an open close, or a change or confirmation of payout details.
func ComputeStatements(ctx context.Context, q *db.Queries, c db.Close) error {
	prog, err := q.GetProgram(ctx, c.ProgramID)
	if err != nil {
		return err
	}
	if err := q.DeleteStatements(ctx, c.ID); err != nil {
		return err
	}
	if err := q.DeleteStatementLines(ctx, c.ID); err != nil {
		return err
	}
	if _, err := q.RecordStatementLines(ctx, db.RecordStatementLinesParams{CloseID: c.ID, ProgramID: c.ProgramID, Month: c.Month}); err != nil {
		return fmt.Errorf("record statement lines: %w", err)
	}
	if _, err = q.ComputeStatements(ctx, db.ComputeStatementsParams{CloseID: c.ID, Currency: prog.Currency, Minimum: prog.PayoutMinimum}); err != nil {
		return fmt.Errorf("compute statements: %w", err)
	}
	return q.SetCloseComputed(ctx, db.SetCloseComputedParams{ID: c.ID, PayoutMinimum: domain.NewNullNumeric(&prog.PayoutMinimum.Decimal)})
}

// AuditStatements derives a close's statements again from what the close held:
// the lines it recorded (its own and the carried ones, whatever became of them
// since), the payout minimum it used and payout details as they stood when it
// was computed. Callers roll it back and compare: stored = recomputed.
func AuditStatements(ctx context.Context, q *db.Queries, c db.Close) error {
	prog, err := q.GetProgram(ctx, c.ProgramID)
	if err != nil {
		return err
	}
	minimum := prog.PayoutMinimum
	if c.PayoutMinimum.Valid {
		minimum = domain.Numeric{Decimal: c.PayoutMinimum.Decimal}
	}
	if err := q.DeleteStatements(ctx, c.ID); err != nil {
		return err
	}
	_, err = q.ComputeStatements(ctx, db.ComputeStatementsParams{CloseID: c.ID, Currency: prog.Currency, Minimum: minimum, AsOf: c.ComputedAt})
	return err
}

// PayoutRef is a payout the close starts a workflow for.
type PayoutRef struct {
	ID         uuid.UUID `json:"id"`
	WorkflowID string    `json:"workflow_id"`
	Provider   string    `json:"provider"`
	PartnerID  uuid.UUID `json:"partner_id"`
	ProgramID  uuid.UUID `json:"program_id"`
	Summary    string    `json:"summary,omitempty"` // its workflow's, in the Temporal UI
}

// CreatePayouts makes one payout per partner with something to pay (once).
func (a *Activities) CreatePayouts(ctx context.Context, closeID uuid.UUID) ([]PayoutRef, error) {
	return heartbeating(ctx, func() ([]PayoutRef, error) { return a.createPayouts(ctx, closeID) })
}

func (a *Activities) createPayouts(ctx context.Context, closeID uuid.UUID) ([]PayoutRef, error) {
	var refs []PayoutRef
	err := a.Store.InTx(ctx, func(q *db.Queries) error {
		c, err := q.GetClose(ctx, closeID)
		if err != nil {
			return err
		}
		prog, err := q.GetProgram(ctx, c.ProgramID)
		if err != nil {
			return err
		}
		if _, err := q.CreatePayouts(ctx, db.CreatePayoutsParams{CloseID: c.ID, Provider: prog.PayoutProvider, WorkflowPrefix: ids.PayoutPrefix}); err != nil {
			return err
		}
		rows, err := q.ListPayoutRefs(ctx, c.ID)
		for _, p := range rows {
			refs = append(refs, PayoutRef{ID: p.ID, WorkflowID: p.WorkflowID, Provider: p.Provider, PartnerID: p.PartnerID, ProgramID: c.ProgramID,
				Summary: domain.PayoutSummary(p.Amount.Decimal, p.Currency, p.Company)})
		}
		return err
	})
	return refs, err
}

// SetCloseStatus records the close's step (paying, completed) and who signed off.
func (a *Activities) SetCloseStatus(ctx context.Context, closeID uuid.UUID, status, approvedBy string) error {
	// An UPDATE of the close's row: it waits for a refund being netted into the
	// close (which holds the row), so the payouts see the recomputed statements.
	p := db.SetCloseStatusParams{ID: closeID, Status: status}
	now := nowUTC()
	if approvedBy != "" {
		p.ApprovedBy, p.ApprovedAt = &approvedBy, &now
	}
	if status == domain.CloseCompleted {
		p.CompletedAt = &now
	}
	return a.Store.SetCloseStatus(ctx, p)
}

// DueClose is a close the scheduler starts.
type DueClose struct {
	CloseID    uuid.UUID `json:"close_id"`
	ProgramID  uuid.UUID `json:"program_id"`
	Month      time.Time `json:"month"`
	WorkflowID string    `json:"workflow_id"`
	Summary    string    `json:"summary,omitempty"` // its workflow's, in the Temporal UI
}

// DueCloses creates the closes due today — programs whose close day it is, for
// the previous month — and returns the ones created now (an existing close is
// never started twice).
func (a *Activities) DueCloses(ctx context.Context, today time.Time) ([]DueClose, error) {
	programs, err := a.Store.ProgramsClosingOn(ctx, int32(today.Day()))
	if err != nil {
		return nil, err
	}
	month := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	var due []DueClose
	for _, p := range programs {
		wfID := ids.Close(p.ID, month)
		row, created, err := a.Store.OpenClose(ctx, db.InsertCloseParams{ID: uuid.Must(uuid.NewV7()), ProgramID: p.ID, Month: domain.NewDate(month), PeriodEnd: month.AddDate(0, 1, 0), WorkflowID: wfID})
		if err != nil {
			return nil, err
		}
		if created {
			due = append(due, DueClose{CloseID: row.ID, ProgramID: p.ID, Month: month, WorkflowID: wfID, Summary: domain.CloseSummary(p.Name, month)})
		}
	}
	return due, nil
}
