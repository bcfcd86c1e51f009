package activities

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// ClawBack corrects a frozen money line (in a close, carried or paid) by amount
// (positive: what is taken back) with a new negative line; the frozen line never
// changes. If the close holding the line is still open (computing or in review)
// the clawback joins it and the close's statements are recomputed under the
// close's row lock, so its sign-off pays the corrected amount; otherwise the next
// close nets it. Used by refunds (the API's conversion path) and by a deal
// margin's reversal. It reports the close that netted it, if any.
func ClawBack(ctx context.Context, q *db.Queries, l db.CommissionLine, amount decimal.Decimal, sourceType string, sourceID uuid.UUID,
	description, dedupeKey string, at time.Time) (*db.Close, error) {
	var into uuid.NullUUID
	var netted *db.Close
	open, err := q.OpenCloseHolding(ctx, db.OpenCloseHoldingParams{CloseID: l.CloseID, LineID: l.ID})
	switch {
	case err == nil:
		if open, err = q.LockClose(ctx, open.ID); err != nil {
			return nil, err
		}
		if open.Status == domain.CloseComputing || open.Status == domain.CloseReview { // still open once locked
			into, netted = uuid.NullUUID{UUID: open.ID, Valid: true}, &open
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	_, err = q.CreateClawback(ctx, db.CreateClawbackParams{ID: uuid.Must(uuid.NewV7()), ProgramID: l.ProgramID, PartnerID: l.PartnerID,
		SourceType: sourceType, SourceID: sourceID, Amount: domain.NewNumeric(amount.Neg()), Currency: l.Currency, Description: description,
		OccurredAt: at, DedupeKey: dedupeKey, RelatedLineID: uuid.NullUUID{UUID: l.ID, Valid: true}, CloseID: into})
	if errors.Is(err, pgx.ErrNoRows) { // this correction was made before (same dedupe key)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if netted != nil {
		if err := ComputeStatements(ctx, q, *netted); err != nil {
			return nil, err
		}
	}
	return netted, nil
}
