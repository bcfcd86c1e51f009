package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
)

// A payout whose partner changed its payout details waits, held, with no ledger
// entry and no provider call, until finance confirms; then it pays the version
// PreparePayout pinned. A lost confirmation Signal is caught by the periodic check.
func TestPayoutHeldUntilDetailsConfirmed(t *testing.T) {
	for _, signalled := range []bool{true, false} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *activities.Activities
		confirmed := false
		prepared, posted, sent := 0, 0, 0
		env.OnActivity(a.PreparePayout, mock.Anything, mock.Anything).Return(func(context.Context, uuid.UUID) (activities.PayoutPrepared, error) {
			prepared++
			if !confirmed {
				return activities.PayoutPrepared{Held: true, Reason: "payout details changed", Version: 2}, nil
			}
			return activities.PayoutPrepared{Version: 2, Destination: "provider ••••0002"}, nil
		})
		var kinds []string
		env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.Notification) error {
			kinds = append(kinds, n.Kind)
			return nil
		})
		env.OnActivity(a.PostPayoutEntry, mock.Anything, mock.Anything, mock.Anything).Return(func(context.Context, uuid.UUID, int) error {
			posted++
			return nil
		})
		env.OnActivity(a.SendPayout, mock.Anything, mock.Anything, mock.Anything).Return(func(context.Context, uuid.UUID, int) (activities.ProviderResult, error) {
			sent++
			return activities.ProviderResult{Status: "paid", Ref: "tr_1"}, nil
		})
		env.OnActivity(a.SettlePayout, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil)

		env.RegisterDelayedCallback(func() {
			var st PayoutState
			v, err := env.QueryWorkflow(PayoutStatusQuery)
			if err == nil {
				err = v.Get(&st)
			}
			if err != nil || st.Status != "held" || posted != 0 || sent != 0 {
				t.Errorf("while held: %+v %v, %d entries, %d sent", st, err, posted, sent)
			}
			confirmed = true
			if signalled {
				env.SignalWorkflow(PayoutDetailsConfirmed, nil)
			}
		}, 2*time.Hour)
		start := env.Now()
		env.ExecuteWorkflow(PayoutWorkflow, PayoutInput{PayoutID: uuid.New(), Provider: "http", Attempt: 1})
		var st PayoutState
		if err := env.GetWorkflowResult(&st); err != nil || st.Status != "paid" || posted != 1 || sent != 1 {
			t.Fatalf("signalled=%v: %+v %v, %d entries, %d sent", signalled, st, err, posted, sent)
		}
		if len(kinds) != 1 || kinds[0] != "payout_held" {
			t.Fatalf("notifications: %v", kinds)
		}
		took := env.Now().Sub(start)
		if signalled && (prepared != 2 || took > 3*time.Hour) || !signalled && (prepared != 2 || took < payoutHeldRecheck) {
			t.Fatalf("signalled=%v: prepared %d times, paid after %s", signalled, prepared, took)
		}
	}
}
