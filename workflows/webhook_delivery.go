package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
)

// WebhookDeliveryRetry: the first retry after 30 s, doubling to at most an
// hour apart, for three days in all — then the run gives up (and an endpoint
// that accepted nothing in three days is disabled and its owner told).
// (MaximumAttempts only bounds it: three days hold about 78 attempts.)
var WebhookDeliveryRetry = &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour,
	MaximumAttempts: 200, NonRetryableErrorTypes: []string{activities.ErrEndpointGone}}

const WebhookDeliveryWindow = 72 * time.Hour

// WebhookDelivery (workflow id webhook-<delivery id>-<run>) delivers one event to
// one endpoint: the activity is the attempt, Temporal's retry policy the backoff,
// so the UI shows which attempt it is on and the last answer (the activity's
// last failure); every attempt is also kept in webhook_attempts.
func WebhookDelivery(ctx workflow.Context, r activities.WebhookRun) (string, error) {
	var a *activities.Activities
	workflow.SetCurrentDetails(ctx, "delivering: each attempt is the activity below (its last failure is the endpoint's answer), retried with backoff until "+
		workflow.Now(ctx).Add(WebhookDeliveryWindow).UTC().Format("2006-01-02 15:04 UTC"))
	attempt := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		ScheduleToCloseTimeout: WebhookDeliveryWindow, RetryPolicy: WebhookDeliveryRetry, Summary: "POST the signed event to the endpoint"})
	err := workflow.ExecuteActivity(attempt, a.DeliverWebhook, r).Get(ctx, nil)
	if err == nil {
		finished(ctx, "delivered")
		return "delivered", nil
	}
	workflow.GetLogger(ctx).Warn("webhook delivery gave up", "delivery", r.DeliveryID, "error", err)
	done := workflow.WithActivityOptions(ctx, defaultActivityOptions)
	if err := workflow.ExecuteActivity(summarized(done, "mark it failed; disable an endpoint failing for 3 days"), a.WebhookGaveUp, r).Get(ctx, nil); err != nil {
		return "", err
	}
	finished(ctx, "gave up after 3 days of retries")
	return "failed", nil
}
