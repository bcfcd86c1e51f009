package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
)

// An SMTP server that is away is retried with backoff until it takes the mail;
// an address that can never work is not retried.
func TestEmailDeliveryRetriesTransientFailuresOnly(t *testing.T) {
	for _, c := range []struct {
		name     string
		fail     func(n int) error
		attempts int
		sent     bool
	}{
		{"away, then back", func(n int) error {
			if n < 4 {
				return errors.New("SMTP: dial tcp 127.0.0.1:1025: connect: connection refused")
			}
			return nil
		}, 4, true},
		{"a bad address", func(int) error {
			return temporal.NewNonRetryableApplicationError("the recipient's address: invalid", activities.ErrPermanent, nil)
		}, 1, false},
	} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *activities.Activities
		n := 0
		env.OnActivity(a.SendEmail, mock.Anything, mock.Anything).Return(func(context.Context, activities.Email) error { n++; return c.fail(n) })
		env.ExecuteWorkflow(EmailDelivery, activities.Email{To: "ana@northwind.example", Kind: "tier_changed", Message: "You are now in the Gold tier"})
		err := env.GetWorkflowError()
		if n != c.attempts || (err == nil) != c.sent {
			t.Errorf("%s: %d attempts, error %v", c.name, n, err)
		}
	}
}
