package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/partnerops/partnerops/activities"
)

type mdfHarness struct {
	t             *testing.T
	env           *testsuite.TestWorkflowEnvironment
	start         time.Time
	mu            sync.Mutex
	changes       []activities.MDFChange
	notifications []string
}

// The activity runs from day 10 to day 12 after the start; claims are due 30 days later.
func newMDFHarness(t *testing.T) *mdfHarness {
	var s testsuite.WorkflowTestSuite
	h := &mdfHarness{t: t, env: s.NewTestWorkflowEnvironment(), start: time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)}
	h.env.SetStartTime(h.start)
	var a *activities.Activities
	h.env.RegisterWorkflow(MDFWorkflow)
	h.env.OnActivity(a.LoadMDFPolicy, mock.Anything, mock.Anything).Return(activities.MDFPolicy{
		ApprovalSLA: 5 * day, ClaimWindow: 30 * day, ProofWindow: 14 * day, ActivityEnd: h.start.Add(12 * day),
		Requested: decimal.RequireFromString("5000.00"), Currency: "USD", Quarter: "2026-Q4",
	}, nil)
	h.env.OnActivity(a.RecordMDFChange, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.MDFChange) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.changes = append(h.changes, c)
		return nil
	})
	h.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.Notification) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notifications = append(h.notifications, n.Kind)
		return nil
	})
	return h
}

func (h *mdfHarness) send(name string, arg any) *updateOutcome {
	r := &updateOutcome{}
	h.env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(e error) { r.err, r.done = e, true },
		OnComplete: func(v any, e error) {
			if e == nil {
				r.status = v.(MDFState).Status
			}
			r.err, r.done = e, true
		},
	}, arg)
	return r
}

type updateOutcome struct {
	done   bool
	status string
	err    error
}

func (r *updateOutcome) is(t *testing.T, status string) {
	t.Helper()
	if !r.done || r.err != nil || r.status != status {
		t.Errorf("update: done=%v err=%v status=%q, want %q", r.done, r.err, r.status, status)
	}
}

func (r *updateOutcome) refused(t *testing.T, code string) {
	t.Helper()
	if de, ok := DomainError(r.err); !r.done || !ok || de.Code != code {
		t.Errorf("update: done=%v err=%v, want %s", r.done, r.err, code)
	}
}

func (h *mdfHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *mdfHarness) run() MDFState {
	h.env.ExecuteWorkflow(MDFWorkflow, MDFInput{RequestID: uuid.New(), PartnerID: uuid.New(), Requested: *amt("5000.00"), Currency: "USD"})
	var st MDFState
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("workflow: %v", err)
	}
	return st
}

func (h *mdfHarness) kinds() []string {
	out := []string{}
	for _, c := range h.changes {
		out = append(out, string(c.Kind))
	}
	return out
}

func amt(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }

func claim(amount string) MDFClaimInput {
	return MDFClaimInput{Actor: "partner", Amount: *amt(amount), Results: map[string]int64{"leads": 40}, FileIDs: []uuid.UUID{uuid.New()}}
}

// Partial pre-approval, a claim after the activity, more proof asked once, a
// resubmission and a partial reimbursement.
func TestMDFRequestToReimbursement(t *testing.T) {
	h := newMDFHarness(t)
	var tooMuch, approve, early, overClaim, noFiles, first, proof, again, resubmit, partial *updateOutcome
	h.at(day, func() {
		tooMuch = h.send(MDFApprove, MDFDecision{Actor: "mgr", Amount: amt("5000.01")})
		approve = h.send(MDFApprove, MDFDecision{Actor: "mgr", Amount: amt("4000.00")})
	})
	h.at(2*day, func() { early = h.send(MDFClaim, claim("100.00")) }) // the activity has not ended
	h.at(13*day, func() {
		overClaim = h.send(MDFClaim, claim("4000.01"))
		noFiles = h.send(MDFClaim, MDFClaimInput{Actor: "partner", Amount: *amt("10.00")})
		first = h.send(MDFClaim, claim("3500.00"))
	})
	h.at(14*day, func() { proof = h.send(MDFRequestProof, MDFDecision{Actor: "mgr", Reason: "attendee list missing"}) })
	h.at(15*day, func() { again = h.send(MDFRequestProof, MDFDecision{Actor: "mgr", Reason: "x"}) })
	h.at(20*day, func() { resubmit = h.send(MDFClaim, claim("3600.00")) })
	h.at(21*day, func() { partial = h.send(MDFApproveClaim, MDFDecision{Actor: "mgr", Amount: amt("3000.00")}) })
	st := h.run()

	tooMuch.refused(t, "invalid")
	approve.is(t, MDFApproved)
	early.refused(t, "activity_not_ended")
	overClaim.refused(t, "invalid")
	noFiles.refused(t, "required")
	first.is(t, MDFClaimed)
	proof.is(t, MDFPendingProof)
	again.refused(t, "no_claim_to_review")
	resubmit.is(t, MDFClaimed)
	partial.is(t, MDFReimbursable)
	if st.Status != MDFReimbursable || !st.Reimbursable.Equal(decimal.RequireFromString("3000")) {
		t.Fatalf("final %+v", st)
	}
	if want := []string{"pre_approved", "claimed", "proof_requested", "claimed", "claim_approved"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v", h.kinds())
	}
	// What the ledger is told: 4000 of 5000 approved; 3500 claimed; then 3500 returned and 3600
	// claimed; 3000 of 3600 accepted with the 400 never claimed released.
	c := h.changes
	if !c[0].Reserved.Equal(decimal.NewFromInt(5000)) || !c[0].Amount.Equal(decimal.NewFromInt(4000)) ||
		!c[3].Unclaim.Equal(decimal.NewFromInt(3500)) || !c[3].Amount.Equal(decimal.NewFromInt(3600)) ||
		!c[4].Claimed.Equal(decimal.NewFromInt(3600)) || !c[4].Amount.Equal(decimal.NewFromInt(3000)) || !c[4].Approved.Equal(decimal.NewFromInt(400)) {
		t.Fatalf("amounts %+v", c)
	}
	if !c[0].Deadline.Equal(h.start.Add(42 * day)) {
		t.Fatalf("claim deadline %v", c[0].Deadline)
	}
}

func TestMDFApprovalSLAAndRejection(t *testing.T) {
	h := newMDFHarness(t)
	h.at(4*day, func() {
		if len(h.notifications) != 0 {
			t.Errorf("before SLA: %v", h.notifications)
		}
	})
	h.at(6*day, func() {
		if !slices.Equal(h.notifications, []string{"mdf_approval_reminder"}) {
			t.Errorf("after SLA: %v", h.notifications)
		}
	})
	var noReason, reject *updateOutcome
	h.at(11*day, func() {
		if !slices.Equal(h.notifications, []string{"mdf_approval_reminder", "mdf_approval_escalation"}) {
			t.Errorf("after 2×SLA: %v", h.notifications)
		}
		noReason = h.send(MDFReject, MDFDecision{Actor: "mgr"})
		reject = h.send(MDFReject, MDFDecision{Actor: "mgr", Reason: "budget spent elsewhere"})
	})
	st := h.run()
	noReason.refused(t, "required")
	reject.is(t, MDFRejected)
	if st.Status != MDFRejected || !slices.Equal(h.kinds(), []string{"rejected"}) || !h.changes[0].Reserved.Equal(decimal.NewFromInt(5000)) {
		t.Fatalf("final %s, changes %+v", st.Status, h.changes)
	}
}

func TestMDFMissedClaimDeadlineReleasesTheFunds(t *testing.T) {
	h := newMDFHarness(t)
	h.at(day, func() { h.send(MDFApprove, MDFDecision{Actor: "mgr"}) })
	h.at(41*day, func() {
		if len(h.changes) != 1 {
			t.Errorf("expired before the deadline: %v", h.kinds())
		}
	})
	st := h.run()
	if st.Status != MDFExpired || !slices.Equal(h.kinds(), []string{"pre_approved", "expired"}) || !h.changes[1].Approved.Equal(decimal.NewFromInt(5000)) {
		t.Fatalf("final %s, changes %+v", st.Status, h.changes)
	}
	if got := h.changes[1].At.Sub(h.start); got != 42*day {
		t.Fatalf("expired at day %v", got/day)
	}
}

func TestMDFMissedProofDeadlineReleasesTheClaim(t *testing.T) {
	h := newMDFHarness(t)
	h.at(day, func() { h.send(MDFApprove, MDFDecision{Actor: "mgr"}) })
	h.at(13*day, func() { h.send(MDFClaim, claim("4500.00")) })
	h.at(14*day, func() { h.send(MDFRequestProof, MDFDecision{Actor: "mgr", Reason: "invoice unreadable"}) })
	st := h.run()
	if st.Status != MDFExpired || !slices.Equal(h.kinds(), []string{"pre_approved", "claimed", "proof_requested", "expired"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
	last := h.changes[3]
	if !last.Claimed.Equal(decimal.NewFromInt(4500)) || !last.Approved.Equal(decimal.NewFromInt(500)) || last.At.Sub(h.start) != 28*day {
		t.Fatalf("expiry %+v at day %v", last, last.At.Sub(h.start)/day)
	}
	if !slices.Contains(h.notifications, "mdf_proof_requested") {
		t.Fatalf("partner not told: %v", h.notifications)
	}
}

func TestMDFWithdrawBeforeApproval(t *testing.T) {
	h := newMDFHarness(t)
	var withdraw, late *updateOutcome
	h.at(day, func() {
		withdraw = h.send(MDFWithdraw, MDFDecision{Actor: "partner", Reason: "event cancelled"})
		late = h.send(MDFApprove, MDFDecision{Actor: "mgr"})
	})
	st := h.run()
	withdraw.is(t, MDFWithdrawn)
	late.refused(t, "already_decided")
	if st.Status != MDFWithdrawn || !slices.Equal(h.kinds(), []string{"withdrawn"}) {
		t.Fatalf("final %s, changes %v", st.Status, h.kinds())
	}
}

func TestMDFAllocationExpiresAtQuarterEndPlusGrace(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	var a *activities.Activities
	env.RegisterWorkflow(MDFAllocationWorkflow)
	var expiredAt time.Time
	env.OnActivity(a.ExpireAllocation, mock.Anything, mock.Anything, "2026-Q4", mock.Anything).Return(
		func(_ context.Context, _ uuid.UUID, _ string, at time.Time) (decimal.Decimal, error) {
			expiredAt = env.Now()
			return decimal.RequireFromString("1234.50"), nil
		})
	env.ExecuteWorkflow(MDFAllocationWorkflow, MDFAllocationInput{PartnerID: uuid.New(), Quarter: "2026-Q4", GraceDays: 5})
	var expired decimal.Decimal
	if err := env.GetWorkflowResult(&expired); err != nil || !expired.Equal(decimal.RequireFromString("1234.5")) {
		t.Fatalf("result %v %v", expired, err)
	}
	if want := time.Date(2027, 1, 6, 0, 0, 0, 0, time.UTC); !expiredAt.Equal(want) {
		t.Fatalf("expired at %v, want %v", expiredAt, want)
	}
}
