package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// ResolveConversionReview applies a manager's review: approved lines rejoin the
// holding period, rejected ones are voided.
func (a *Activities) ResolveConversionReview(ctx context.Context, conversionID uuid.UUID, approved bool) error {
	review, lineStatus := "approved", "pending"
	if !approved {
		review, lineStatus = "rejected", "void"
	}
	return a.Store.InTx(ctx, func(q *db.Queries) error {
		if err := q.SetReviewStatus(ctx, db.SetReviewStatusParams{ID: conversionID, ReviewStatus: &review}); err != nil {
			return fmt.Errorf("review conversion %s: %w", conversionID, err)
		}
		return q.ReleaseHeldLines(ctx, db.ReleaseHeldLinesParams{SourceID: conversionID, Status: lineStatus})
	})
}

// MakeCommissionsPayable is the holding period, set-based: one UPDATE for every
// line whose hold has passed.
func (a *Activities) MakeCommissionsPayable(ctx context.Context, now time.Time) (int64, error) {
	n, err := a.Store.MakeLinesPayable(ctx, &now)
	if err != nil {
		return 0, fmt.Errorf("make lines payable: %w", err)
	}
	return n, nil
}
