package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
)

// HousekeepingWorkflow runs hourly from a Temporal Schedule: it sweeps expired
// Idempotency-Keys, keeps the click partitions three months ahead and starts
// webhook deliveries whose workflow did not start; past the click retention
// (CLICK_RETENTION_MONTHS) it drops the click partitions older than it.
func HousekeepingWorkflow(ctx workflow.Context) (activities.Housekeeping, error) {
	var a *activities.Activities
	var out activities.Housekeeping
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	if err := workflow.ExecuteActivity(summarized(ctx, "sweep Idempotency-Keys older than 24 hours"), a.SweepIdempotencyKeys).Get(ctx, &out.IdempotencyKeysSwept); err != nil {
		return out, err
	}
	if err := workflow.ExecuteActivity(summarized(ctx, "create the click partitions three months ahead"), a.EnsureClickPartitions).Get(ctx, nil); err != nil {
		return out, err
	}
	if workflow.GetVersion(ctx, "webhook-sweep", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return out, nil
	}
	if err := workflow.ExecuteActivity(summarized(ctx, "start webhook deliveries that did not start"), a.SweepWebhookDeliveries).Get(ctx, &out.WebhookDeliveriesStarted); err != nil {
		return out, err
	}
	if workflow.GetVersion(ctx, "click-retention", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return out, nil
	}
	return out, workflow.ExecuteActivity(summarized(ctx, "drop click partitions past the retention"), a.DropOldClickPartitions).Get(ctx, &out.ClickPartitionsDropped)
}
