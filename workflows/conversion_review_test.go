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

func TestConversionReviewSLAReminderAndDecision(t *testing.T) {
	for _, approve := range []bool{true, false} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *activities.Activities
		var reminders []string
		var resolved *bool
		env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.Notification) error {
			reminders = append(reminders, n.Kind)
			return nil
		})
		env.OnActivity(a.ResolveConversionReview, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, _ uuid.UUID, ok bool) error {
			resolved = &ok
			return nil
		})
		env.RegisterDelayedCallback(func() {
			if len(reminders) != 0 {
				t.Errorf("reminded before the SLA: %v", reminders)
			}
		}, 47*time.Hour)
		var noReason, decision, again *updateOutcome
		send := func(name string, d ReviewDecision) *updateOutcome {
			r := &updateOutcome{}
			env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{OnAccept: func() {},
				OnReject:   func(e error) { r.err, r.done = e, true },
				OnComplete: func(v any, e error) { r.err, r.done = e, true; r.status = v.(ReviewState).Status }}, d)
			return r
		}
		env.RegisterDelayedCallback(func() {
			if len(reminders) != 1 || reminders[0] != "conversion_review_reminder" {
				t.Errorf("after the SLA: %v", reminders)
			}
			noReason = send(ReviewReject, ReviewDecision{Actor: "mgr"})
			if approve {
				decision = send(ReviewApprove, ReviewDecision{Actor: "mgr"})
			} else {
				decision = send(ReviewReject, ReviewDecision{Actor: "mgr", Reason: "self-referral"})
			}
			again = send(ReviewApprove, ReviewDecision{Actor: "mgr"})
		}, 50*time.Hour)
		env.ExecuteWorkflow(ConversionReviewWorkflow, ReviewInput{ConversionID: uuid.New(), PartnerID: uuid.New(), SLA: 48 * time.Hour, Flags: []string{"self_referral"}})
		want := map[bool]string{true: "approved", false: "rejected"}[approve]
		noReason.refused(t, "required")
		decision.is(t, want)
		again.refused(t, "already_decided")
		var st ReviewState
		if err := env.GetWorkflowResult(&st); err != nil || st.Status != want || resolved == nil || *resolved != approve {
			t.Fatalf("approve=%v: %+v %v resolved=%v", approve, st, err, resolved)
		}
	}
}

func TestCommissionPayableWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.OnActivity(a.MakeCommissionsPayable, mock.Anything, mock.Anything).Return(int64(42), nil)
	env.ExecuteWorkflow(CommissionPayableWorkflow)
	var n int64
	if err := env.GetWorkflowResult(&n); err != nil || n != 42 {
		t.Fatalf("%d %v", n, err)
	}
}
