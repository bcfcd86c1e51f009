package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
)

// EmailDelivery (workflow id email-<hash of the notification's key>) sends one
// notification e-mail: the activity is the attempt, retried like a webhook
// delivery (30 s doubling to 1 h, for 3 days) while the SMTP server refuses or
// is away; an address or a configuration that can never work is not retried.
func EmailDelivery(ctx workflow.Context, e activities.Email) (string, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 72 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour, MaximumAttempts: 200,
			NonRetryableErrorTypes: []string{activities.ErrPermanent}},
		Summary: "send the " + e.Kind + " e-mail to " + e.To})
	workflow.SetCurrentDetails(ctx, "sending the "+e.Kind+" e-mail to "+e.To+", retried while the mail server is away until "+
		workflow.Now(ctx).Add(72*time.Hour).UTC().Format("2006-01-02 15:04 UTC"))
	if err := workflow.ExecuteActivity(ctx, a.SendEmail, e).Get(ctx, nil); err != nil {
		finished(ctx, "failed: "+err.Error())
		return "failed", err
	}
	finished(ctx, "sent")
	return "sent", nil
}
