package workflows

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

// A decision being carried out (its activity still running) blocks a second,
// contradicting one: the validator sees the message in flight, not only the queue.
func TestDecisionInFlightBlocksTheNext(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterWorkflow(DealWorkflow)
	env.OnActivity(a.LoadDealPolicy, mock.Anything, mock.Anything).Return(dealPolicy("none"), nil)
	env.OnActivity(a.CheckDealConflicts, mock.Anything, mock.Anything).Return(noConflicts, nil)
	var kinds []string
	env.OnActivity(a.RecordDealChange, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.DealChange) error {
		kinds = append(kinds, c.Kind)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil)

	h := &dealHarness{t: t, env: env}
	var approve, reject, approveAgain *dealResult
	sent := false
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "RecordDealChange" && !sent {
			sent = true // the approval's activity runs now: its message is popped from the queue
			reject = h.send(DealReject, DealDecision{Actor: "mgr-2", Reason: "duplicate"})
			approveAgain = h.send(DealApprove, DealDecision{Actor: "mgr-3", Margin: ptr(decimal.RequireFromString("0.30"))})
		}
	})
	env.RegisterDelayedCallback(func() {
		approve = h.send(DealApprove, DealDecision{Actor: "mgr-1", Margin: ptr(decimal.RequireFromString("0.10"))})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		approve.ok(t, domain.DealApproved)
		reject.refused(t, domain.KindConflict, "already_decided")
		approveAgain.refused(t, domain.KindConflict, "already_decided")
		if approve.state.Margin == nil || approve.state.Margin.String() != "0.1" {
			t.Errorf("margin %v", approve.state.Margin)
		}
		env.CancelWorkflow()
	}, 2*time.Hour)
	env.ExecuteWorkflow(DealWorkflow, DealInput{})
	if !sent || reject == nil {
		t.Fatal("the second decision was never sent during the first one's activity")
	}
	if !slices.Equal(kinds, []string{"approved"}) {
		t.Fatalf("changes recorded: %v", kinds)
	}
}

// A change the database refuses for good (activities.ErrPermanent) is not made:
// the deal stays as it was, the caller is told, and the deal takes the next move.
func TestRefusedRecordLeavesTheDealAsItWas(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterWorkflow(DealWorkflow)
	env.OnActivity(a.LoadDealPolicy, mock.Anything, mock.Anything).Return(dealPolicy("none"), nil)
	env.OnActivity(a.CheckDealConflicts, mock.Anything, mock.Anything).Return(noConflicts, nil)
	var kinds []string
	wonTries := 0
	env.OnActivity(a.RecordDealChange, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.DealChange) error {
		if c.Kind == "won" {
			wonTries++
			if wonTries == 1 {
				return temporal.NewNonRetryableApplicationError("numeric field overflow", activities.ErrPermanent, nil)
			}
		}
		kinds = append(kinds, c.Kind)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil)
	h := &dealHarness{t: t, env: env}
	var approve, bad, good *dealResult
	env.RegisterDelayedCallback(func() { approve = h.send(DealApprove, DealDecision{Actor: "mgr"}) }, time.Hour)
	env.RegisterDelayedCallback(func() {
		approve.ok(t, domain.DealApproved)
		bad = h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: ptr(decimal.RequireFromString("1000.00"))})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		bad.refused(t, domain.KindInvalid, "not_recorded")
		var st DealState
		if v, err := env.QueryWorkflow(DealStatusQuery); err != nil || v.Get(&st) != nil || st.Status != domain.DealApproved {
			t.Errorf("after a refused record the deal is %q (%v)", st.Status, err)
		}
		good = h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: ptr(decimal.RequireFromString("1000.00"))})
	}, 3*time.Hour)
	env.ExecuteWorkflow(DealWorkflow, DealInput{})
	good.ok(t, domain.DealWon)
	if !slices.Equal(kinds, []string{"approved", "won"}) || wonTries != 2 {
		t.Fatalf("changes %v, won tried %d times", kinds, wonTries)
	}
}
