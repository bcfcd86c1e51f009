package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
)

// runDelivery runs the delivery workflow with DeliverWebhook answering from
// outcome (called per attempt, with the attempt's time on the test clock).
func runDelivery(t *testing.T, outcome func(n int) error) (result string, times []time.Time, gaveUp bool) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.OnActivity(a.DeliverWebhook, mock.Anything, mock.Anything).Return(func(context.Context, activities.WebhookRun) error {
		times = append(times, env.Now())
		return outcome(len(times))
	})
	env.OnActivity(a.WebhookGaveUp, mock.Anything, mock.Anything).Return(func(context.Context, activities.WebhookRun) error {
		gaveUp = true
		return nil
	})
	env.ExecuteWorkflow(WebhookDelivery, activities.WebhookRun{DeliveryID: uuid.New(), Run: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&result); err != nil {
		t.Fatal(err)
	}
	return result, times, gaveUp
}

// An endpoint that fails a few times is retried with growing gaps, then delivered.
func TestWebhookDeliveryRetriesWithBackoff(t *testing.T) {
	result, times, gaveUp := runDelivery(t, func(n int) error {
		if n < 5 {
			return errors.New("endpoint answered: 503 Service Unavailable")
		}
		return nil
	})
	if result != "delivered" || gaveUp || len(times) != 5 {
		t.Fatalf("%s after %d attempts (gave up %v)", result, len(times), gaveUp)
	}
	for i, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute} {
		if got := times[i+1].Sub(times[i]); got < want || got > want+time.Second {
			t.Errorf("gap %d: %s, want %s", i+1, got, want)
		}
	}
}

// An endpoint that never answers well is retried for three days (gaps capped at
// an hour), then the run gives up and WebhookGaveUp marks it (and may disable
// the endpoint).
func TestWebhookDeliveryGivesUpAfterThreeDays(t *testing.T) {
	result, times, gaveUp := runDelivery(t, func(int) error { return errors.New("endpoint answered: 500") })
	if result != "failed" || !gaveUp {
		t.Fatalf("result %s, gave up %v", result, gaveUp)
	}
	span := times[len(times)-1].Sub(times[0])
	if span < 71*time.Hour || span > 72*time.Hour {
		t.Fatalf("retried for %s", span)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > time.Hour+time.Second {
			t.Fatalf("gap %d is %s", i, gap)
		}
	}
	if len(times) < 70 || len(times) > 90 {
		t.Fatalf("%d attempts in three days", len(times))
	}
}

// A disabled or deleted endpoint is not retried.
func TestWebhookDeliveryStopsForAGoneEndpoint(t *testing.T) {
	result, times, gaveUp := runDelivery(t, func(int) error {
		return temporal.NewNonRetryableApplicationError("the endpoint is disabled", activities.ErrEndpointGone, nil)
	})
	if result != "failed" || !gaveUp || len(times) != 1 {
		t.Fatalf("%s after %d attempts (gave up %v)", result, len(times), gaveUp)
	}
}
