package workflows

// A partner's MDF allocation for one quarter (ID mdf-allocation-<partner>-<quarter>):
// it waits for the quarter's end plus the program's grace period, then expires
// what is still available. A timer, not a cron scan.

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

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
	workflow.SetCurrentDetails(ctx, "waiting for the end of "+in.Quarter+" and its grace days, until "+expireAt.UTC().Format("2006-01-02 15:04 UTC")+": then the unused funds expire")
	if err := workflow.NewTimerWithOptions(ctx, expireAt.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary}).Get(ctx, nil); err != nil {
		return decimal.Zero, err
	}
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var expired decimal.Decimal
	err := workflow.ExecuteActivity(summarized(ctx, "expire the unused funds of "+in.Quarter), a.ExpireAllocation, in.PartnerID, in.Quarter, expireAt).Get(ctx, &expired)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet("expired"))
	finished(ctx, "expired "+expired.String()+" unused")
	return expired, err
}

// MDFQuarterStartWorkflow runs from a Temporal Schedule at the start of each
// quarter: every active partner gets its tier's default allocation, and each new
// allocation gets its expiry workflow.
func MDFQuarterStartWorkflow(ctx workflow.Context) (int, error) {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, defaultActivityOptions)
	quarter := domain.Quarter(workflow.Now(ctx))
	var created []activities.Allocation
	if err := workflow.ExecuteActivity(summarized(actx, "allocate the tier defaults for "+quarter), a.ApplyTierDefaults, quarter, uuid.NullUUID{}).Get(ctx, &created); err != nil {
		return 0, err
	}
	for _, al := range created {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: al.WorkflowID, ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON, StaticSummary: al.Summary,
			TypedSearchAttributes: temporal.NewSearchAttributes(SAPartnerID.ValueSet(al.PartnerID.String()), SAProgramID.ValueSet(al.ProgramID.String()),
				SAKind.ValueSet("mdf_allocation"), SAQuarter.ValueSet(al.Quarter), SAStatus.ValueSet("open"))})
		child := workflow.ExecuteChildWorkflow(cctx, MDFAllocationWorkflow, MDFAllocationInput{PartnerID: al.PartnerID, Quarter: al.Quarter, GraceDays: al.GraceDays})
		var running *temporal.ChildWorkflowExecutionAlreadyStartedError
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !errors.As(err, &running) {
			return 0, err
		}
	}
	return len(created), nil
}
