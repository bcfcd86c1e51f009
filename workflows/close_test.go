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

// Nobody signs off: a reminder after 3 days; sign-off starts the payouts and the
// close completes when they settle.
func TestCloseSignOffReminderAndPayouts(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(CloseWorkflow)
	env.RegisterWorkflow(PayoutWorkflow)
	var a *activities.Activities
	var notified []string
	var statuses []string
	env.OnActivity(a.ComputeClose, mock.Anything, mock.Anything).Return(activities.CloseTotals{Statements: 3, ToPay: 3}, nil)
	env.OnActivity(a.SetCloseStatus, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, _ uuid.UUID, st, _ string) error {
		statuses = append(statuses, st)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.Notification) error {
		notified = append(notified, n.Kind)
		return nil
	})
	payouts := []activities.PayoutRef{{ID: uuid.New(), WorkflowID: "p1", Provider: "http"}, {ID: uuid.New(), WorkflowID: "p2", Provider: "http"}, {ID: uuid.New(), WorkflowID: "p3", Provider: "http"}}
	env.OnActivity(a.CreatePayouts, mock.Anything, mock.Anything).Return(payouts, nil)
	env.OnActivity(a.PreparePayout, mock.Anything, mock.Anything).Return(activities.PayoutPrepared{Version: 1}, nil)
	env.OnActivity(a.PostPayoutEntry, mock.Anything, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.SendPayout, mock.Anything, payouts[2].ID, mock.Anything).Return(activities.ProviderResult{Status: "failed", Reason: "declined"}, nil)
	env.OnActivity(a.SendPayout, mock.Anything, mock.Anything, mock.Anything).Return(activities.ProviderResult{Status: "paid", Ref: "tr_1"}, nil)
	env.OnActivity(a.SettlePayout, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil)

	env.RegisterDelayedCallback(func() {
		if len(notified) != 0 {
			t.Errorf("reminded early: %v", notified)
		}
	}, 71*time.Hour)
	var early, signOff *updateOutcome
	send := func(d CloseDecision) *updateOutcome {
		r := &updateOutcome{}
		env.UpdateWorkflow(CloseApprove, uuid.NewString(), &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject:   func(e error) { r.err, r.done = e, true },
			OnComplete: func(v any, e error) { r.err, r.done, r.status = e, true, v.(CloseState).Status }}, d)
		return r
	}
	env.RegisterDelayedCallback(func() { early = send(CloseDecision{}) }, time.Hour)
	env.RegisterDelayedCallback(func() {
		if len(notified) != 1 || notified[0] != "close_signoff_reminder" {
			t.Errorf("after 3 days: %v", notified)
		}
		signOff = send(CloseDecision{Actor: "finance:fin"})
	}, 73*time.Hour)
	env.ExecuteWorkflow(CloseWorkflow, CloseInput{CloseID: uuid.New(), ProgramID: uuid.New(), Month: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
	early.refused(t, "required")
	signOff.is(t, "paying")
	var st CloseState
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != "completed" || st.Paid != 2 || st.Failed != 1 || st.SignedBy != "finance:fin" {
		t.Fatalf("final %+v %v", st, err)
	}
	if want := []string{"review", "paying", "completed"}; len(statuses) != 3 || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
		t.Fatalf("statuses %v", statuses)
	}
}
