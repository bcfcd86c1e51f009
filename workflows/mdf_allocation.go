package workflows

// A partner's MDF allocation for one quarter (ID mdf-allocation-<partner>-<quarter>):
// it waits for the quarter's end plus the program's grace period, then expires
// what is still available. A timer, not a cron scan.

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

func MDFAllocationWorkflowID(partnerID uuid.UUID, quarter string) string {
	return "mdf-allocation-" + partnerID.String() + "-" + quarter
}

type MDFAllocationInput struct {
	PartnerID uuid.UUID `json:"partner_id"`
	Quarter   string    `json:"quarter"`
	GraceDays int       `json:"grace_days"`
}

// MDFAllocationWorkflow returns the amount that expired.
func MDFAllocationWorkflow(ctx workflow.Context, in MDFAllocationInput) (decimal.Decimal, error) {
	_, end, ok := domain.QuarterBounds(in.Quarter)
	if !ok {
		return decimal.Zero, fmt.Errorf("bad quarter %q", in.Quarter)
	}
	expireAt := end.AddDate(0, 0, in.GraceDays)
	summary := fmt.Sprintf("end of %s plus %d grace days (%s): expire unused funds", in.Quarter, in.GraceDays, expireAt.Format(time.DateOnly))
	if err := workflow.NewTimerWithOptions(ctx, expireAt.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary}).Get(ctx, nil); err != nil {
		return decimal.Zero, err
	}
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var expired decimal.Decimal
	err := workflow.ExecuteActivity(summarized(ctx, "expire the unused funds of "+in.Quarter), a.ExpireAllocation, in.PartnerID, in.Quarter, expireAt).Get(ctx, &expired)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet("expired"))
	return expired, err
}
