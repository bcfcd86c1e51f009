package workflows

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

const day = 24 * time.Hour

type dealHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu            sync.Mutex
	changes       []activities.DealChange
	notifications []activities.Notification
}

func dealPolicy(auto string) activities.DealPolicy {
	return activities.DealPolicy{
		ApprovalSLA: 48 * time.Hour, AutoDecision: auto, MaxExtensions: 1, ExtensionDays: 30, ProtectionDays: 90, Currency: "USD",
		TierDefaultMargin: decimal.RequireFromString("0.20"),
		Stages:            []domain.Stage{{Name: "registered", Probability: decimal.RequireFromString("0.1")}, {Name: "qualified", Probability: decimal.RequireFromString("0.25")}},
	}
}

func newDealHarness(t *testing.T, policy activities.DealPolicy, verdict domain.ConflictVerdict, protectErr error) *dealHarness {
	var s testsuite.WorkflowTestSuite
	h := &dealHarness{t: t, env: s.NewTestWorkflowEnvironment()}
	var a *activities.Activities
	h.env.RegisterWorkflow(DealWorkflow)
	h.env.OnActivity(a.LoadDealPolicy, mock.Anything, mock.Anything).Return(policy, nil)
	h.env.OnActivity(a.CheckDealConflicts, mock.Anything, mock.Anything).Return(verdict, nil)
	h.env.OnActivity(a.RecordDealChange, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.DealChange) error {
		if c.Kind == "approved" && protectErr != nil {
			return protectErr
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.changes = append(h.changes, c)
		return nil
	})
	h.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.Notification) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notifications = append(h.notifications, n)
		return nil
	})
	return h
}

func (h *dealHarness) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []string{}
	for _, c := range h.changes {
		out = append(out, string(c.Kind))
	}
	return out
}

func (h *dealHarness) notified() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []string{}
	for _, n := range h.notifications {
		out = append(out, n.Kind)
	}
	return out
}

type dealResult struct {
	done  bool
	state DealState
	err   error
}

func (h *dealHarness) send(name string, arg any) *dealResult {
	r := &dealResult{}
	h.env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(e error) { r.err, r.done = e, true },
		OnComplete: func(v any, e error) {
			if e == nil {
				r.state = v.(DealState)
			}
			r.err, r.done = e, true
		},
	}, arg)
	return r
}

func (h *dealHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *dealHarness) run() DealState {
	h.env.ExecuteWorkflow(DealWorkflow, DealInput{DealID: uuid.New(), PartnerID: uuid.New(), ProgramID: uuid.New()})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the deal workflow did not end")
	}
	var st DealState
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("workflow: %v", err)
	}
	return st
}

func (r *dealResult) ok(t *testing.T, status string) {
	t.Helper()
	if !r.done || r.err != nil || r.state.Status != status {
		t.Errorf("update: done=%v err=%v status=%q, want %q", r.done, r.err, r.state.Status, status)
	}
}

func (r *dealResult) refused(t *testing.T, k domain.Kind, code string) {
	t.Helper()
	de, ok := DomainError(r.err)
	if !r.done || !ok || de.Kind != k || (code != "" && de.Code != code) {
		t.Errorf("update: done=%v err=%v, want %s %s", r.done, r.err, k, code)
	}
}

var noConflicts = domain.ConflictVerdict{Flags: []domain.Match{}}

func TestDealApprovedProtectedRemindedAndExpired(t *testing.T) {
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	var approve, stage, badStage, again *dealResult
	h.at(time.Hour, func() {
		approve = h.send(DealApprove, DealDecision{Actor: "mgr", Margin: ptr(decimal.RequireFromString("0.18"))})
	})
	h.at(time.Hour+time.Minute, func() {
		approve.ok(t, domain.DealApproved)
		if !approve.state.ProtectedUntil.Equal(h.env.Now().Add(-time.Minute).AddDate(0, 0, 90)) {
			t.Errorf("protected until %v", approve.state.ProtectedUntil)
		}
		again = h.send(DealReject, DealDecision{Actor: "mgr", Reason: "x"})
		stage = h.send(DealSetStage, DealUpdate{Actor: "partner", Stage: "qualified"})
		badStage = h.send(DealSetStage, DealUpdate{Actor: "partner", Stage: "closing"})
	})
	h.at(time.Hour+2*time.Minute, func() {
		again.refused(t, domain.KindConflict, "already_decided")
		stage.ok(t, domain.DealApproved)
		badStage.refused(t, domain.KindInvalid, "unknown_stage")
	})
	h.at(75*day, func() {
		if n := h.notified(); len(n) != 0 {
			t.Errorf("day 75: %v", n)
		}
	})
	h.at(77*day, func() {
		if n := h.notified(); len(n) != 1 || !strings.HasSuffix(n[0], "_14d") {
			t.Errorf("day 77 (13 days before expiry): %v", n)
		}
	})
	h.at(88*day, func() {
		if n := h.notified(); len(n) != 2 || !strings.HasSuffix(n[1], "_3d") {
			t.Errorf("day 88: %v", n)
		}
	})
	st := h.run()
	if st.Status != domain.DealExpired {
		t.Fatalf("final %+v", st)
	}
	if want := []string{"approved", "stage", "expired"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v, want %v", h.kinds(), want)
	}
	if h.changes[0].Margin == nil || h.changes[0].Margin.String() != "0.18" {
		t.Fatalf("margin %v", h.changes[0].Margin)
	}
	if got := h.env.Now().Sub(h.changes[0].At); got < 90*day || got > 90*day+time.Hour {
		t.Fatalf("expired %v after approval", got)
	}
}

func TestDealApprovalSLAWithoutAutoDecision(t *testing.T) {
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	h.at(47*time.Hour, func() {
		if n := h.notified(); len(n) != 0 {
			t.Errorf("before SLA: %v", n)
		}
	})
	h.at(49*time.Hour, func() {
		if n := h.notified(); !slices.Equal(n, []string{"deal_approval_reminder"}) {
			t.Errorf("after SLA: %v", n)
		}
	})
	var reject *dealResult
	h.at(200*time.Hour, func() {
		if n := h.notified(); !slices.Equal(n, []string{"deal_approval_reminder", "deal_approval_escalation"}) {
			t.Errorf("long after: %v (no auto-decision configured)", n)
		}
		reject = h.send(DealReject, DealDecision{Actor: "mgr", Reason: "not a fit"})
	})
	st := h.run()
	reject.ok(t, domain.DealRejected)
	if st.Status != domain.DealRejected || !slices.Equal(h.kinds(), []string{"rejected"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
}

func TestDealAutoDecisionAtThreeTimesTheSLA(t *testing.T) {
	for _, auto := range []string{"approve", "reject"} {
		t.Run(auto, func(t *testing.T) {
			h := newDealHarness(t, dealPolicy(auto), noConflicts, nil)
			h.at(143*time.Hour, func() {
				if len(h.changes) != 0 {
					t.Errorf("decided before 3×SLA: %v", h.kinds())
				}
			})
			h.at(145*time.Hour, func() {
				if len(h.changes) != 1 || h.changes[0].Actor != "system:auto-decision" {
					t.Errorf("after 3×SLA: %+v", h.changes)
				}
				if auto == "approve" {
					h.send(DealLose, DealUpdate{Actor: "partner", Reason: "budget cut"})
				}
			})
			st := h.run()
			want := map[string]string{"approve": domain.DealLost, "reject": domain.DealRejected}[auto]
			if st.Status != want {
				t.Fatalf("final %s, want %s", st.Status, want)
			}
			if n := h.notified(); !slices.Equal(n, []string{"deal_approval_reminder", "deal_approval_escalation"}) {
				t.Fatalf("notifications %v", n)
			}
		})
	}
}

func TestDealExtensionApprovedMovesTheExpiry(t *testing.T) {
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	var approvedAt time.Time
	var req, second, decide *dealResult
	h.at(time.Hour, func() { approvedAt = h.env.Now(); h.send(DealApprove, DealDecision{Actor: "mgr"}) })
	h.at(80*day, func() {
		req = h.send(DealRequestExtension, DealUpdate{Actor: "partner", Reason: "procurement is slow"})
	})
	h.at(80*day+time.Minute, func() {
		req.ok(t, domain.DealApproved)
		second = h.send(DealRequestExtension, DealUpdate{Actor: "partner", Reason: "again"})
		decide = h.send(DealApproveExtension, ExtensionDecision{Actor: "mgr"})
	})
	h.at(80*day+2*time.Minute, func() {
		second.refused(t, domain.KindConflict, "extension_pending")
		decide.ok(t, domain.DealApproved)
		if want := approvedAt.AddDate(0, 0, 120); !decide.state.ProtectedUntil.Equal(want) {
			t.Errorf("protected until %v, want %v", decide.state.ProtectedUntil, want)
		}
		// At most one extension by default.
		h.send(DealRequestExtension, DealUpdate{Actor: "partner", Reason: "once more"})
	})
	h.at(95*day, func() {
		if s := h.status(); s.Status != domain.DealApproved {
			t.Errorf("day 95, after the old expiry: %s", s.Status)
		}
		r := h.send(DealWin, DealUpdate{Actor: "manager", Confirmed: true, FinalAmount: ptr(decimal.RequireFromString("12500.00"))})
		h.at(95*day+time.Minute, func() { r.ok(t, domain.DealWon) })
	})
	st := h.run()
	if st.Status != domain.DealWon {
		t.Fatalf("final %s", st.Status)
	}
	want := []string{"approved", "extension_requested", "extended", "won"}
	if !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v, want %v", h.kinds(), want)
	}
	won := h.changes[3]
	if won.MarginAmount == nil || won.MarginAmount.String() != "2500" || won.FinalAmount.String() != "12500" {
		t.Fatalf("won change %+v", won)
	}
	// Reminders for the old date (14 days before day 90) and for the new one.
	n := h.notified()
	if !slices.Contains(n, "deal_extension_requested_1") || !containsPrefix(n, "deal_expiry_reminder_"+approvedAt.AddDate(0, 0, 90).Format(time.DateOnly)) {
		t.Fatalf("notifications %v", n)
	}
}

func TestDealExtensionRejectedKeepsTheExpiry(t *testing.T) {
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	var approvedAt time.Time
	var reject, noReason *dealResult
	h.at(time.Hour, func() { approvedAt = h.env.Now(); h.send(DealApprove, DealDecision{Actor: "mgr"}) })
	h.at(60*day, func() { h.send(DealRequestExtension, DealUpdate{Actor: "partner", Reason: "need time"}) })
	h.at(60*day+time.Minute, func() {
		noReason = h.send(DealRejectExtension, ExtensionDecision{Actor: "mgr"})
		reject = h.send(DealRejectExtension, ExtensionDecision{Actor: "mgr", Reason: "no activity"})
	})
	h.at(60*day+2*time.Minute, func() {
		noReason.refused(t, domain.KindInvalid, "required")
		reject.ok(t, domain.DealApproved)
		if !reject.state.ProtectedUntil.Equal(approvedAt.AddDate(0, 0, 90)) {
			t.Errorf("protected until moved: %v", reject.state.ProtectedUntil)
		}
	})
	st := h.run()
	if st.Status != domain.DealExpired || !slices.Equal(h.kinds(), []string{"approved", "extension_requested", "extension_rejected", "expired"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
	if got := h.changes[3].At.Sub(approvedAt); got != 90*day {
		t.Fatalf("expired %v after approval", got)
	}
}

func TestDealLost(t *testing.T) {
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	var noReason, lost, late *dealResult
	h.at(time.Hour, func() { h.send(DealApprove, DealDecision{Actor: "mgr"}) })
	h.at(10*day, func() {
		noReason = h.send(DealLose, DealUpdate{Actor: "partner"})
		lost = h.send(DealLose, DealUpdate{Actor: "partner", Reason: "went with a competitor"})
		late = h.send(DealWin, DealUpdate{Actor: "partner", FinalAmount: ptr(decimal.RequireFromString("10"))})
	})
	st := h.run()
	noReason.refused(t, domain.KindInvalid, "required")
	lost.ok(t, domain.DealLost)
	late.refused(t, domain.KindConflict, "not_protected")
	if st.Status != domain.DealLost || !slices.Equal(h.kinds(), []string{"approved", "lost"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
}

func TestDealExactConflictRejectsAtOnce(t *testing.T) {
	verdict := domain.ConflictVerdict{Reject: true, Reason: "already registered: another partner's protected deal (same domain acme.com)"}
	h := newDealHarness(t, dealPolicy("none"), verdict, nil)
	st := h.run()
	if st.Status != domain.DealRejected || !slices.Equal(h.kinds(), []string{"rejected"}) || h.changes[0].Reason != verdict.Reason {
		t.Fatalf("final %s, changes %+v", st.Status, h.changes)
	}
}

// First approved wins: approving a deal whose customer another deal protects
// meanwhile is refused (409) and the deal ends rejected.
func TestDealApprovalLosesTheRace(t *testing.T) {
	protected := temporal.NewNonRetryableApplicationError("another deal already protects this customer", activities.ErrAlreadyProtected, nil)
	h := newDealHarness(t, dealPolicy("none"), noConflicts, protected)
	var approve *dealResult
	h.at(time.Hour, func() { approve = h.send(DealApprove, DealDecision{Actor: "mgr"}) })
	st := h.run()
	approve.refused(t, domain.KindConflict, "already_protected")
	if st.Status != domain.DealRejected || !slices.Equal(h.kinds(), []string{"rejected"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
}

func (h *dealHarness) status() DealState {
	v, err := h.env.QueryWorkflow(DealStatusQuery)
	if err != nil {
		h.t.Fatal(err)
	}
	var s DealState
	_ = v.Get(&s)
	return s
}

func ptr[T any](v T) *T { return &v }

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
