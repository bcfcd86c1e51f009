package workflows

import (
	"context"
	"slices"
	"strings"
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
		kinds = append(kinds, string(c.Kind))
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
		kinds = append(kinds, string(c.Kind))
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil)
	h := &dealHarness{t: t, env: env}
	var approve, bad, good *dealResult
	env.RegisterDelayedCallback(func() { approve = h.send(DealApprove, DealDecision{Actor: "mgr"}) }, time.Hour)
	env.RegisterDelayedCallback(func() {
		approve.ok(t, domain.DealApproved)
		bad = h.send(DealWin, DealUpdate{Actor: "manager", Confirmed: true, FinalAmount: ptr(decimal.RequireFromString("1000.00"))})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		bad.refused(t, domain.KindInvalid, "not_recorded")
		var st DealState
		if v, err := env.QueryWorkflow(DealStatusQuery); err != nil || v.Get(&st) != nil || st.Status != domain.DealApproved {
			t.Errorf("after a refused record the deal is %q (%v)", st.Status, err)
		}
		good = h.send(DealWin, DealUpdate{Actor: "manager", Confirmed: true, FinalAmount: ptr(decimal.RequireFromString("1000.00"))})
	}, 3*time.Hour)
	env.ExecuteWorkflow(DealWorkflow, DealInput{})
	good.ok(t, domain.DealWon)
	if !slices.Equal(kinds, []string{"approved", "won"}) || wonTries != 2 {
		t.Fatalf("changes %v, won tried %d times", kinds, wonTries)
	}
}

// Closed-won is the vendor's word: a partner's report waits (still protected,
// managers reminded after the SLA) until a manager confirms — at the amount the
// manager confirms — or rejects it; a program may auto-confirm up to a percentage.
func TestWonNeedsConfirmation(t *testing.T) {
	run := func(t *testing.T, policy activities.DealPolicy, steps func(h *dealHarness)) (*dealHarness, DealState) {
		h := newDealHarness(t, policy, noConflicts, nil)
		steps(h)
		h.at(200*day, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(DealWorkflow, DealInput{})
		var st DealState
		if v, err := h.env.QueryWorkflow(DealStatusQuery); err == nil {
			_ = v.Get(&st)
		}
		return h, st
	}
	policy := dealPolicy("none")
	policy.EstimatedValue = decimal.RequireFromString("48000")
	amount := func(s string) *decimal.Decimal { return ptr(decimal.RequireFromString(s)) }

	t.Run("confirmed at the manager's amount", func(t *testing.T) {
		var report, again, stage, confirm *dealResult
		h, _ := run(t, policy, func(h *dealHarness) {
			h.at(time.Hour, func() { h.send(DealApprove, DealDecision{Actor: "mgr", Margin: amount("0.10")}) })
			h.at(2*time.Hour, func() { report = h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: amount("52000.00")}) })
			h.at(3*time.Hour, func() {
				report.ok(t, domain.DealWonReported)
				again = h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: amount("60000.00")})
				stage = h.send(DealSetStage, DealUpdate{Actor: "partner", Stage: "qualified"})
			})
			h.at(4*time.Hour, func() {
				again.refused(t, domain.KindConflict, "won_reported")
				stage.refused(t, domain.KindConflict, "not_protected")
			})
			h.at(2*time.Hour+49*time.Hour, func() {
				if n := h.notified(); !slices.ContainsFunc(n, func(k string) bool { return strings.HasPrefix(k, "deal_won_confirmation_reminder") }) {
					t.Errorf("no reminder after the SLA: %v", n)
				}
				confirm = h.send(DealConfirmWon, WonDecision{Actor: "mgr", FinalAmount: amount("50000.00")})
			})
			h.at(2*time.Hour+50*time.Hour, func() { confirm.ok(t, domain.DealWon) })
		})
		if !slices.Equal(h.kinds(), []string{"approved", "won_reported", "won"}) {
			t.Fatalf("changes %v", h.kinds())
		}
		won := h.changes[2]
		if won.FinalAmount.String() != "50000" || won.MarginAmount.String() != "5000" {
			t.Fatalf("won at %v, margin %v", won.FinalAmount, won.MarginAmount)
		}
	})
	t.Run("rejected, then won by a manager", func(t *testing.T) {
		var reject, noReason *dealResult
		h, st := run(t, policy, func(h *dealHarness) {
			h.at(time.Hour, func() { h.send(DealApprove, DealDecision{Actor: "mgr"}) })
			h.at(2*time.Hour, func() { h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: amount("90000.00")}) })
			h.at(3*time.Hour, func() {
				noReason = h.send(DealRejectWon, WonDecision{Actor: "mgr"})
				reject = h.send(DealRejectWon, WonDecision{Actor: "mgr", Reason: "the order was 45,000"})
			})
			h.at(4*time.Hour, func() {
				noReason.refused(t, domain.KindInvalid, "required")
				reject.ok(t, domain.DealApproved)
				h.send(DealWin, DealUpdate{Actor: "mgr", Confirmed: true, FinalAmount: amount("45000.00")})
			})
		})
		if st.Status != domain.DealWon || !slices.Equal(h.kinds(), []string{"approved", "won_reported", "won_rejected", "won"}) {
			t.Fatalf("status %s, changes %v", st.Status, h.kinds())
		}
	})
	t.Run("auto-confirmed within the program's percentage", func(t *testing.T) {
		auto := policy
		auto.WonAutoConfirmPercent = amount("10")
		h, st := run(t, auto, func(h *dealHarness) {
			h.at(time.Hour, func() { h.send(DealApprove, DealDecision{Actor: "mgr"}) })
			h.at(2*time.Hour, func() { h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: amount("52800.00")}) }) // exactly +10 %
		})
		if st.Status != domain.DealWon || !slices.Equal(h.kinds(), []string{"approved", "won"}) {
			t.Fatalf("status %s, changes %v", st.Status, h.kinds())
		}
		h2, st2 := run(t, auto, func(h *dealHarness) {
			h.at(time.Hour, func() { h.send(DealApprove, DealDecision{Actor: "mgr"}) })
			h.at(2*time.Hour, func() { h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: amount("52800.01")}) })
		})
		if st2.Status != domain.DealWonReported || !slices.Equal(h2.kinds(), []string{"approved", "won_reported"}) {
			t.Fatalf("over the percentage: status %s, changes %v", st2.Status, h2.kinds())
		}
	})
}
