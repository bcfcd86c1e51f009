package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

// partnerHarness runs PartnerWorkflow in the SDK's test environment with the
// activities replaced by recorders, so tests can read what would be written.
type partnerHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu            sync.Mutex
	changes       []activities.PartnerChange
	notifications []activities.Notification
}

func newPartnerHarness(t *testing.T, policy activities.PartnerPolicy) *partnerHarness {
	var s testsuite.WorkflowTestSuite
	h := &partnerHarness{t: t, env: s.NewTestWorkflowEnvironment()}
	var a *activities.Activities
	h.env.RegisterWorkflow(PartnerWorkflow)
	h.env.OnActivity(a.LoadPartnerPolicy, mock.Anything, mock.Anything).Return(policy, nil)
	h.env.OnActivity(a.RecordPartnerChange, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.PartnerChange) error {
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

// kinds lists the recorded change kinds in order.
func (h *partnerHarness) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []string{}
	for _, c := range h.changes {
		out = append(out, string(c.Kind))
	}
	return out
}

func (h *partnerHarness) status() PartnerState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(PartnerStatusQuery)
	if err != nil {
		h.t.Fatalf("query: %v", err)
	}
	var s PartnerState
	if err := v.Get(&s); err != nil {
		h.t.Fatalf("decode query: %v", err)
	}
	return s
}

// updateResult is filled in when an Update is rejected or completes; the test
// environment runs the workflow between delayed callbacks, so read it in a later one.
type updateResult struct {
	done  bool
	state PartnerState
	err   error
}

func (h *partnerHarness) send(name string, arg any) *updateResult {
	r := &updateResult{}
	h.env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(e error) { r.err, r.done = e, true },
		OnComplete: func(v any, e error) {
			if e == nil {
				r.state = v.(PartnerState)
			}
			r.err, r.done = e, true
		},
	}, arg)
	return r
}

// steps runs each function a minute after the previous one, starting at start.
func (h *partnerHarness) steps(start time.Duration, fns ...func()) {
	for i, fn := range fns {
		h.env.RegisterDelayedCallback(fn, start+time.Duration(i)*time.Minute)
	}
}

// onboard approves, accepts the terms and records certifications, a minute apart.
func (h *partnerHarness) onboard(certs ...func() CertificationRecord) {
	fns := []func(){
		func() { h.send(PartnerApprove, Decision{Actor: "mgr"}) },
		func() { h.send(PartnerAcceptAgreement, AgreementAcceptance{Version: "2026-01", Actor: "p"}) },
	}
	for _, c := range certs {
		fns = append(fns, func() { h.send(PartnerCertify, c()) })
	}
	h.steps(time.Minute, fns...)
}

func (r *updateResult) ok(t *testing.T, status string) {
	t.Helper()
	if !r.done || r.err != nil || r.state.Status != status {
		t.Errorf("update: done=%v err=%v status=%q, want %q", r.done, r.err, r.state.Status, status)
	}
}

func (r *updateResult) refused(t *testing.T, k domain.Kind) {
	t.Helper()
	if !r.done || !isKind(r.err, k) {
		t.Errorf("update: done=%v err=%v, want a %s error", r.done, r.err, k)
	}
}

var (
	channelPolicy   = activities.PartnerPolicy{ReviewSLA: 48 * time.Hour, AgreementVersion: "2026-01", RequiredCertifications: []string{"sales-fundamentals"}}
	affiliatePolicy = activities.PartnerPolicy{ReviewSLA: 48 * time.Hour, AgreementVersion: "2026-01", RequiredCertifications: []string{}}
)

func partnerInput() PartnerInput {
	return PartnerInput{PartnerID: uuid.MustParse("0190f3c4-0000-7000-8000-000000000001"), ProgramID: uuid.New(), PartnerType: "reseller"}
}

func cert(name string, now time.Time, validFor time.Duration) CertificationRecord {
	return CertificationRecord{Certification: domain.Certification{Name: name, PassedAt: now, ExpiresAt: now.Add(validFor)}, Actor: "mgr"}
}

func TestPartnerOnboardingHappyPath(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	var approve, again, oldTerms, agree, expired, certify *updateResult
	h.steps(time.Hour,
		func() {
			if s := h.status(); s.Status != domain.StatusPendingReview || s.Step != StepReview {
				t.Errorf("before decision: %+v", s)
			}
			approve = h.send(PartnerApprove, Decision{Actor: "mgr", Reason: "good fit"})
		},
		func() {
			approve.ok(t, domain.StatusAwaitingAgreement)
			again = h.send(PartnerApprove, Decision{Actor: "mgr"})
			oldTerms = h.send(PartnerAcceptAgreement, AgreementAcceptance{Version: "2025-01", Actor: "partner"})
		},
		func() {
			again.refused(t, domain.KindConflict)
			oldTerms.refused(t, domain.KindInvalid)
			agree = h.send(PartnerAcceptAgreement, AgreementAcceptance{Version: "2026-01", Actor: "partner"})
		},
		func() {
			agree.ok(t, domain.StatusAwaitingCertification)
			if !slices.Equal(agree.state.MissingCertifications, []string{"sales-fundamentals"}) {
				t.Errorf("missing %v", agree.state.MissingCertifications)
			}
			now := h.env.Now()
			expired = h.send(PartnerCertify, cert("sales-fundamentals", now.Add(-48*time.Hour), 24*time.Hour))
			certify = h.send(PartnerCertify, cert("sales-fundamentals", now, 365*24*time.Hour))
		},
		func() {
			expired.refused(t, domain.KindInvalid)
			certify.ok(t, domain.StatusActive)
		},
	)
	h.env.RegisterDelayedCallback(func() {
		if s := h.status(); s.Status != domain.StatusActive || s.Step != StepActive {
			t.Errorf("a day later: %+v", s)
		}
		h.env.CancelWorkflow()
	}, 25*time.Hour)

	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	if want := []string{"approved", "agreement_accepted", "certified", "activated"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v, want %v", h.kinds(), want)
	}
	if len(h.notifications) != 0 {
		t.Fatalf("decided within the SLA but notified: %+v", h.notifications)
	}
	keys := map[string]bool{}
	for _, c := range h.changes {
		if keys[c.EventKey] {
			t.Fatalf("event key %s used twice", c.EventKey)
		}
		keys[c.EventKey] = true
	}
}

func TestPartnerReviewSLAReminderAndEscalation(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	var noReason, reject *updateResult
	h.env.RegisterDelayedCallback(func() {
		if len(h.notifications) != 0 {
			t.Errorf("notified before the SLA: %+v", h.notifications)
		}
	}, 47*time.Hour)
	h.env.RegisterDelayedCallback(func() {
		if len(h.notifications) != 1 || h.notifications[0].Kind != "review_reminder" {
			t.Errorf("after the SLA: %+v", h.notifications)
		}
	}, 49*time.Hour)
	h.steps(100*time.Hour,
		func() {
			if len(h.notifications) != 2 || h.notifications[1].Kind != "review_escalation" {
				t.Errorf("after twice the SLA: %+v", h.notifications)
			}
			noReason = h.send(PartnerReject, Decision{Actor: "mgr"})
			reject = h.send(PartnerReject, Decision{Actor: "mgr", Reason: "no fit"})
		},
		func() {
			noReason.refused(t, domain.KindInvalid)
			reject.ok(t, domain.StatusRejected)
		},
	)

	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("rejected workflow should complete: %v", h.env.GetWorkflowError())
	}
	var final PartnerState
	if err := h.env.GetWorkflowResult(&final); err != nil || final.Status != domain.StatusRejected || final.Decision.Reason != "no fit" {
		t.Fatalf("final %+v %v", final, err)
	}
	if want := []string{"rejected"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v", h.kinds())
	}
	if len(h.notifications) != 2 || h.notifications[0].DedupeKey == h.notifications[1].DedupeKey {
		t.Fatalf("notifications %+v", h.notifications)
	}
}

func TestPartnerCertificationExpiryLapsesAndRenewalReinstates(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	var certifiedAt time.Time
	h.onboard(func() CertificationRecord {
		certifiedAt = h.env.Now()
		return cert("sales-fundamentals", certifiedAt, 30*24*time.Hour)
	})
	h.env.RegisterDelayedCallback(func() {
		s := h.status()
		if s.Status != domain.StatusActive || s.NextCertificationExpiry == nil || !s.NextCertificationExpiry.Equal(certifiedAt.Add(30*24*time.Hour)) {
			t.Errorf("day 29: %+v", s)
		}
	}, 29*24*time.Hour)
	var renew *updateResult
	h.steps(31*24*time.Hour,
		func() {
			s := h.status()
			if s.Status != domain.StatusLapsed || s.Step != StepLapsed || !slices.Equal(s.MissingCertifications, []string{"sales-fundamentals"}) {
				t.Errorf("day 31: %+v", s)
			}
			renew = h.send(PartnerCertify, cert("sales-fundamentals", h.env.Now(), 365*24*time.Hour))
		},
		func() { renew.ok(t, domain.StatusActive) },
	)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 40*24*time.Hour)

	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	want := []string{"approved", "agreement_accepted", "certified", "activated", "lapsed", "certified", "reinstated"}
	if !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v, want %v", h.kinds(), want)
	}
}

func TestPartnerAffiliateActivatesWithoutCertification(t *testing.T) {
	h := newPartnerHarness(t, affiliatePolicy)
	var agree *updateResult
	h.steps(time.Minute,
		func() { h.send(PartnerApprove, Decision{Actor: "mgr"}) },
		func() { agree = h.send(PartnerAcceptAgreement, AgreementAcceptance{Version: "2026-01", Actor: "p"}) },
		func() { agree.ok(t, domain.StatusActive) }, // the answer already shows the activation
	)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
	h.env.ExecuteWorkflow(PartnerWorkflow, PartnerInput{PartnerID: uuid.New(), PartnerType: "affiliate"})
	if want := []string{"approved", "agreement_accepted", "activated"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v", h.kinds())
	}
}

func TestPartnerDecisionsBySignal(t *testing.T) {
	h := newPartnerHarness(t, affiliatePolicy)
	h.steps(time.Minute,
		func() {
			h.env.SignalWorkflow(PartnerAcceptAgreement, AgreementAcceptance{Version: "2026-01", Actor: "early"}) // invalid now: dropped
			h.env.SignalWorkflow(PartnerApprove, Decision{Actor: "operator@temporal-ui"})
		},
		func() {
			if s := h.status(); s.Status != domain.StatusAwaitingAgreement || s.Decision.Actor != "operator@temporal-ui" {
				t.Errorf("after approve signal: %+v", s)
			}
			h.env.SignalWorkflow(PartnerReject, Decision{Actor: "late", Reason: "x"}) // already decided: dropped
			h.env.SignalWorkflow(PartnerAcceptAgreement, AgreementAcceptance{Version: "2026-01", Actor: "partner"})
		},
		func() {
			if s := h.status(); s.Status != domain.StatusActive {
				t.Errorf("after agreement signal: %+v", s)
			}
			h.env.CancelWorkflow()
		},
	)
	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	if want := []string{"approved", "agreement_accepted", "activated"}; !slices.Equal(h.kinds(), want) {
		t.Fatalf("changes %v", h.kinds())
	}
}

func TestPartnerContinuesAsNewWithItsState(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	h.onboard(func() CertificationRecord { return cert("sales-fundamentals", h.env.Now(), 365*24*time.Hour) })
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 150*time.Second)
	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var carried PartnerInput
	if err := decodeInput(can, &carried); err != nil {
		t.Fatal(err)
	}
	if carried.State == nil || carried.State.Status != domain.StatusActive || len(carried.State.Certifications) != 1 {
		t.Fatalf("carried state %+v", carried.State)
	}

	// The next run goes straight to the lifecycle, re-recording nothing.
	h2 := newPartnerHarness(t, channelPolicy)
	h2.env.SetStartTime(carried.State.Certifications[0].PassedAt.Add(time.Hour))
	h2.env.RegisterDelayedCallback(func() {
		if s := h2.status(); s.Status != domain.StatusActive {
			t.Errorf("continued run: %+v", s)
		}
		h2.env.CancelWorkflow()
	}, time.Hour)
	h2.env.ExecuteWorkflow(PartnerWorkflow, carried)
	if len(h2.kinds()) != 0 {
		t.Fatalf("continued run re-recorded %v", h2.kinds())
	}
}

func decodeInput(can *workflow.ContinueAsNewError, out *PartnerInput) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, out)
}

func isKind(err error, k domain.Kind) bool {
	de, ok := DomainError(err)
	return ok && de.Kind == k
}

// A holder is warned 30 and 7 days before a required certification expires,
// once each; a renewal's expiry warns again in its turn.
func TestPartnerCertificationExpiryWarnings(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	var certifiedAt time.Time
	h.onboard(func() CertificationRecord {
		certifiedAt = h.env.Now()
		return cert("sales-fundamentals", certifiedAt, 100*24*time.Hour)
	})
	warnings := func() (out []activities.Notification) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, n := range h.notifications {
			if n.Kind == "certification_expiring" {
				out = append(out, n)
			}
		}
		return out
	}
	check := func(day int, want int) {
		h.env.RegisterDelayedCallback(func() {
			if got := warnings(); len(got) != want {
				t.Errorf("day %d: %d warnings, want %d: %+v", day, len(got), want, got)
			}
		}, time.Duration(day)*24*time.Hour)
	}
	check(69, 0)
	check(71, 1)
	check(92, 1)
	check(94, 2)
	var renew *updateResult
	h.steps(95*24*time.Hour,
		func() { renew = h.send(PartnerCertify, cert("sales-fundamentals", h.env.Now(), 60*24*time.Hour)) },
		func() { renew.ok(t, domain.StatusActive) },
	)
	check(124, 2) // the renewal expires on day 155: its 30-day warning is on day 125
	check(126, 3)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 130*24*time.Hour)
	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	got := warnings()
	if len(got) != 3 || got[0].Message == got[1].Message || got[0].Recipient != partnerInput().PartnerID.String() ||
		got[0].DedupeKey == got[1].DedupeKey || got[1].DedupeKey == got[2].DedupeKey {
		t.Fatalf("warnings %+v", got)
	}
	want := []string{"30 days", "7 days", "30 days"}
	for i, n := range got {
		if !strings.Contains(n.Message, "in "+want[i]+" or less") {
			t.Errorf("warning %d: %s", i, n.Message)
		}
	}
}

// A tier change waits for onboarding, needs a reason, and is recorded and told
// to the partner. (A tier of another program is refused by the API and, failing
// that, by the database: TestPartnerTierMoves.)
func TestPartnerTierChange(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	gold := uuid.New()
	var early, noReason, moved *updateResult
	h.steps(30*time.Second, func() {
		early = h.send(PartnerSetTier, TierChange{TierID: gold, TierName: "Gold", Actor: "mgr", Reason: "early"})
	})
	h.onboard(func() CertificationRecord { return cert("sales-fundamentals", h.env.Now(), 365*24*time.Hour) })
	h.steps(time.Hour,
		func() { noReason = h.send(PartnerSetTier, TierChange{TierID: gold, TierName: "Gold", Actor: "mgr"}) },
		func() {
			moved = h.send(PartnerSetTier, TierChange{TierID: gold, TierName: "Gold", Actor: "mgr", Reason: "closed 1.2M"})
		},
		func() {
			early.refused(t, domain.KindConflict)
			noReason.refused(t, domain.KindInvalid)
			moved.ok(t, domain.StatusActive)
		},
	)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 2*time.Hour)
	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())
	if k := h.kinds(); k[len(k)-1] != "tier_changed" || slices.Index(k, "tier_changed") != len(k)-1 {
		t.Fatalf("changes %v", k)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.notifications[len(h.notifications)-1]
	if last.Kind != "tier_changed" || last.Message != "You are now in the Gold tier: closed 1.2M" {
		t.Fatalf("notification %+v", last)
	}
}

// The tier review's verdicts: promoted at once; warned and kept for the grace
// period; a recovery inside the grace lifts the warning; still short at its end,
// demoted to the tier it qualifies for then.
func TestPartnerTierReviewWarningGraceRecoveryDemotion(t *testing.T) {
	h := newPartnerHarness(t, channelPolicy)
	var a *activities.Activities
	registered, silver, gold := uuid.New(), uuid.New(), uuid.New()
	var endOfGrace []time.Time
	h.env.OnActivity(a.ReviewPartnerTier, mock.Anything, mock.Anything, mock.Anything).Return(func(context.Context, uuid.UUID, uuid.UUID) (*activities.TierReview, error) {
		endOfGrace = append(endOfGrace, h.env.Now())
		return &activities.TierReview{Rank: 2, TierID: silver, TierName: "Silver", TierRank: 1}, nil
	})
	h.onboard(func() CertificationRecord { return cert("sales-fundamentals", h.env.Now(), 3*365*24*time.Hour) })
	day := func(d int) time.Duration { return time.Duration(d) * 24 * time.Hour }
	review := func(rank, tierRank int32, id uuid.UUID, name string) func() {
		return func() {
			h.send(PartnerTierReview, activities.TierReview{Rank: rank, TierID: id, TierName: name, TierRank: tierRank, GraceDays: 90})
		}
	}
	h.env.RegisterDelayedCallback(review(0, 2, gold, "Gold"), day(1)) // promoted at once
	h.env.RegisterDelayedCallback(review(2, 0, registered, "Registered"), day(10))
	h.env.RegisterDelayedCallback(func() {
		if w := h.status().TierWarning; w == nil || !w.Until.Equal(h.env.Now().Add(-day(1)).AddDate(0, 0, 90)) {
			t.Errorf("day 11: warning %+v", w)
		}
	}, day(11))
	h.env.RegisterDelayedCallback(review(2, 2, gold, "Gold"), day(40)) // back within: lifted
	h.env.RegisterDelayedCallback(review(2, 1, silver, "Silver"), day(120))
	h.env.RegisterDelayedCallback(func() {
		if len(endOfGrace) != 0 {
			t.Errorf("weighed again before the grace ended: %v", endOfGrace)
		}
	}, day(209))
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, day(215))
	h.env.ExecuteWorkflow(PartnerWorkflow, partnerInput())

	var tiers []uuid.UUID
	h.mu.Lock()
	for _, c := range h.changes {
		if c.Kind == activities.PartnerChangeTierChanged {
			tiers = append(tiers, *c.TierID)
		}
	}
	var kinds []string
	for _, n := range h.notifications {
		if strings.HasPrefix(n.Kind, "tier_") {
			kinds = append(kinds, n.Kind)
		}
	}
	h.mu.Unlock()
	if !slices.Equal(tiers, []uuid.UUID{gold, silver}) {
		t.Fatalf("tier changes %v, want gold then silver", tiers)
	}
	if want := []string{"tier_changed", "tier_warning", "tier_recovered", "tier_warning", "tier_changed"}; !slices.Equal(kinds, want) {
		t.Fatalf("notifications %v, want %v", kinds, want)
	}
	if len(endOfGrace) != 1 || endOfGrace[0].Sub(h.env.Now().Add(-day(215))) < day(210)-time.Hour || endOfGrace[0].Sub(h.env.Now().Add(-day(215))) > day(210)+time.Hour {
		t.Fatalf("weighed again at %v", endOfGrace)
	}
}
