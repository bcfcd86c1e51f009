package workflows

// Partner onboarding and certification, one workflow per partner (ID partner-<id>):
//
//	pending_review ──approve──▶ awaiting_agreement ──accept-agreement──▶ awaiting_certification
//	      │                                                                     │ required set complete
//	      └──reject──▶ rejected (ends)                                          ▼
//	                                                    lapsed ◀──a certification expires── active
//	                                                       └────────renewed─────────────────▲
//
// Decisions arrive as Updates (the API; validated, answered at once) or as Signals
// with the same names and payloads (an operator in the Temporal UI or CLI). Both go
// through the same validate-then-apply path; handlers only change the workflow's
// state, and the main loop below writes every change to the database, so the
// history reads top to bottom as the process.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// Messages the partner workflow accepts, each as an Update and as a Signal.
const (
	PartnerApprove         = "approve"
	PartnerReject          = "reject"
	PartnerAcceptAgreement = "accept-agreement"
	PartnerCertify         = "record-certification"
	PartnerSetTier         = "set-tier"
	PartnerTierReview      = "tier-review" // a signal from TierReviewWorkflow
	PartnerStatusQuery     = "status"
)

// partnerHistoryLimit is where the partner's long lifecycle continues as new.
const partnerHistoryLimit = 10_000

type PartnerInput struct {
	PartnerID   uuid.UUID `json:"partner_id"`
	ProgramID   uuid.UUID `json:"program_id"`
	PartnerType string    `json:"partner_type"`
	// State carries everything forward across Continue-As-New; nil on the first run.
	State *PartnerState `json:"state,omitempty"`
}

// Decision is a manager's approve or reject. An approval through the API names
// the partner's first API key, made inactive by the API and activated with the
// approval (so a partner is never approved without its key, nor given a key it
// was not approved for).
type Decision struct {
	Actor    string     `json:"actor"`
	Reason   string     `json:"reason,omitempty"`
	APIKeyID *uuid.UUID `json:"api_key_id,omitempty"`
}

type AgreementAcceptance struct {
	Version string `json:"version"`
	Actor   string `json:"actor"`
}

type CertificationRecord struct {
	domain.Certification
	Actor string `json:"actor"`
}

// TierChange moves the partner to another tier of its program (an admin's or a
// manager's decision; the reason is kept in the timeline and told the partner).
type TierChange struct {
	TierID   uuid.UUID `json:"tier_id"`
	TierName string    `json:"tier_name"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"`
}

// PartnerState is the workflow's state, and what the status query answers.
type PartnerState struct {
	Status                  string                   `json:"status"`
	Step                    string                   `json:"step"`
	Policy                  activities.PartnerPolicy `json:"policy"`
	Decision                *Decision                `json:"decision,omitempty"`
	Approved                bool                     `json:"approved"`
	AcceptedAgreement       string                   `json:"accepted_agreement,omitempty"`
	Certifications          []domain.Certification   `json:"certifications"`
	MissingCertifications   []string                 `json:"missing_certifications"`
	NextCertificationExpiry *time.Time               `json:"next_certification_expiry,omitempty"`
	EventSeq                int                      `json:"event_seq"`               // numbers lifecycle events for their idempotency keys
	WarningsSent            []string                 `json:"warnings_sent,omitempty"` // certification expiry warnings already sent
	TierWarning             *TierWarning             `json:"tier_warning,omitempty"`  // below its tier's criteria: demoted at Until unless it recovers
}

// TierWarning: the tier review found the partner below its tier's criteria; it
// keeps the tier until Until, then drops to the tier it qualifies for then.
type TierWarning struct {
	Until    time.Time `json:"until"`
	TierName string    `json:"tier_name"` // what it qualified for when warned
}

// Steps shown to people: what the partner is waiting for.
const (
	StepReview        = "review: waiting for a manager's decision"
	StepAgreement     = "agreement: waiting for the partner to accept the terms"
	StepCertification = "certification: waiting for required certifications"
	StepActive        = "active"
	StepLapsed        = "lapsed: a required certification expired"
	StepRejected      = "rejected"
)

type partnerWorkflow struct {
	in    PartnerInput
	state PartnerState
	inbox *inbox
}

func PartnerWorkflow(ctx workflow.Context, in PartnerInput) (PartnerState, error) {
	w := &partnerWorkflow{in: in, inbox: newInbox()}
	if err := w.setup(ctx); err != nil {
		return PartnerState{}, err
	}
	return w.run(ctx)
}

func (w *partnerWorkflow) setup(ctx workflow.Context) error {
	if w.in.State != nil {
		w.state = *w.in.State
	} else {
		w.state = PartnerState{Status: domain.StatusPendingReview, Step: StepReview, Certifications: []domain.Certification{}, MissingCertifications: []string{}}
	}
	state := func() PartnerState { return w.state }
	return errors.Join(
		workflow.SetQueryHandler(ctx, PartnerStatusQuery, func() (PartnerState, error) { return w.state, nil }),
		serve(ctx, w.inbox, PartnerApprove, func(d Decision) error { return w.validateDecision(true, d) }, state),
		serve(ctx, w.inbox, PartnerReject, func(d Decision) error { return w.validateDecision(false, d) }, state),
		serve(ctx, w.inbox, PartnerAcceptAgreement, w.validateAgreement, state),
		serve(ctx, w.inbox, PartnerCertify, func(c CertificationRecord) error { return w.validateCertification(workflow.Now(ctx), c) }, state),
		serve(ctx, w.inbox, PartnerSetTier, w.validateTierChange, state),
		serve(ctx, w.inbox, PartnerTierReview, w.validateTierReview, state),
	)
}

func (w *partnerWorkflow) run(ctx workflow.Context) (PartnerState, error) {
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var a *activities.Activities

	if w.in.State == nil {
		if err := workflow.ExecuteActivity(summarized(ctx, "load the program's review SLA, terms and required certifications"), a.LoadPartnerPolicy, w.in.PartnerID).Get(ctx, &w.state.Policy); err != nil {
			return w.state, fmt.Errorf("load partner policy: %w", err)
		}
	}

	// Review: a manager approves or rejects; a reminder when the SLA passes and an
	// escalation at twice the SLA, then the application keeps waiting.
	if w.state.Status == domain.StatusPendingReview {
		sla := w.state.Policy.ReviewSLA
		if ok, _ := awaitUntil(ctx, sla, "a manager's review of the application", "review SLA: remind managers if still undecided", w.inbox.pending); !ok {
			w.notify(ctx, "review_reminder", "manager", fmt.Sprintf("Partner application waiting for review for %s", sla))
			if ok, _ := awaitUntil(ctx, sla, "a manager's review of the application (reminded)", "twice the review SLA: escalate if still undecided", w.inbox.pending); !ok {
				w.notify(ctx, "review_escalation", "admin", fmt.Sprintf("Partner application undecided after %s (twice the review SLA)", 2*sla))
				_ = await(ctx, "a manager's review of the application (reminded and escalated)", w.inbox.pending)
			}
		}
		m := w.inbox.pop()
		d := m.payload.(Decision)
		if m.name == PartnerReject {
			w.change(m.traced(ctx), activities.PartnerChangeRejected, domain.StatusRejected, StepRejected, d.Actor, d.Reason, nil)
			w.state.Decision = &d
			w.inbox.done(m, nil)
			w.inbox.close(messageError(domain.Conflict("process_ended", "the application was rejected")))
			finished(ctx, "rejected")
			return w.state, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
		w.state.Decision, w.state.Approved = &d, true
		// The approval activates the partner's first API key (made by the API) in the same transaction.
		w.change(m.traced(ctx), activities.PartnerChangeApproved, domain.StatusAwaitingAgreement, StepAgreement, d.Actor, d.Reason, &activities.PartnerChange{APIKeyID: d.APIKeyID})
		w.inbox.done(m, nil)
	}

	// Agreement: the partner accepts the program's current terms version.
	var waiting []message // answered once the loop below has settled the partner's standing
	if w.state.Status == domain.StatusAwaitingAgreement {
		_ = await(ctx, "the partner to accept the terms (agreement "+w.state.Policy.AgreementVersion+")", w.inbox.pending)
		m := w.inbox.pop()
		acc := m.payload.(AgreementAcceptance)
		w.state.AcceptedAgreement = acc.Version
		w.change(m.traced(ctx), activities.PartnerChangeAgreementAccepted, domain.StatusAwaitingCertification, StepCertification, acc.Actor, "terms "+acc.Version, &activities.PartnerChange{AgreementVersion: acc.Version})
		waiting = append(waiting, m) // the loop below may activate at once
	}

	// Certification and the rest of the lifecycle: active while every required
	// certification is valid, lapsed from the moment one expires until it is renewed.
	for {
		for w.inbox.pending() {
			m := w.inbox.pop()
			if tc, ok := m.payload.(TierChange); ok {
				err := w.changeTier(m.traced(ctx), tc)
				if err == nil {
					w.state.TierWarning = nil // a manager's move settles any pending demotion
				}
				w.inbox.done(m, err)
				continue
			}
			if r, ok := m.payload.(activities.TierReview); ok {
				w.applyTierReview(m.traced(ctx), r)
				w.inbox.done(m, nil)
				continue
			}
			c := m.payload.(CertificationRecord)
			w.state.Certifications = append(w.state.Certifications, c.Certification)
			cert := c.Certification
			w.record(m.traced(ctx), activities.PartnerChange{Kind: activities.PartnerChangeCertified, Status: w.state.Status, Actor: c.Actor,
				Reason: fmt.Sprintf("%s valid until %s", c.Name, c.ExpiresAt.Format(time.DateOnly)), Certification: &cert})
			waiting = append(waiting, m)
		}
		now := workflow.Now(ctx)
		st := domain.Standing(w.state.Policy.RequiredCertifications, w.state.Certifications, now)
		w.state.MissingCertifications = st.Missing
		w.state.NextCertificationExpiry = nil
		if !st.NextExpiry.IsZero() {
			w.state.NextCertificationExpiry = &st.NextExpiry
		}
		switch {
		case st.Complete() && w.state.Status != domain.StatusActive:
			kind := activities.PartnerChangeActivated
			if w.state.Status == domain.StatusLapsed {
				kind = activities.PartnerChangeReinstated
			}
			w.change(ctx, kind, domain.StatusActive, StepActive, "system", "all required certifications are valid", nil)
		case !st.Complete() && w.state.Status == domain.StatusActive:
			w.change(ctx, activities.PartnerChangeLapsed, domain.StatusLapsed, StepLapsed, "system", "certification expired: "+strings.Join(st.Missing, ", "), nil)
		}
		for _, m := range waiting {
			w.inbox.done(m, nil)
		}
		waiting = nil

		if w.historyTooLong(ctx) {
			_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			if !w.inbox.busy() && !pendingSignals(ctx, PartnerApprove, PartnerReject, PartnerAcceptAgreement, PartnerCertify, PartnerSetTier, PartnerTierReview) {
				next := w.in
				state := w.state
				next.State = &state
				return w.state, workflow.NewContinueAsNewError(ctx, PartnerWorkflow, next)
			}
		}

		if tw := w.state.TierWarning; tw != nil && !now.Before(tw.Until) {
			w.endTierGrace(ctx)
		}
		wake, why := st.NextExpiry, "certification expiry "+st.NextExpiry.Format(time.DateOnly)+": lapse unless renewed"
		if tw := w.state.TierWarning; tw != nil && (wake.IsZero() || tw.Until.Before(wake)) {
			wake, why = tw.Until, "tier grace ends "+tw.Until.Format(time.DateOnly)+": demoted unless back within the criteria"
		}
		if workflow.GetVersion(ctx, "certification-expiry-warnings", workflow.DefaultVersion, 1) >= 1 {
			// Warn the holder 30 and 7 days before a required certification expires.
			due, next := domain.CertificationWarnings(w.state.Policy.RequiredCertifications, w.state.Certifications, now)
			for _, wn := range due {
				if key := wn.Key(); !slices.Contains(w.state.WarningsSent, key) {
					w.notifyKeyed(ctx, key, "certification_expiring", w.in.PartnerID.String(), fmt.Sprintf("Your %s certification expires on %s (in %d days or less): renew it to stay active",
						wn.Name, wn.ExpiresAt.Format(time.DateOnly), wn.DaysBefore))
					w.state.WarningsSent = append(w.state.WarningsSent, key)
				}
			}
			if !next.IsZero() && (wake.IsZero() || next.Before(wake)) {
				wake, why = next, "certification expiry warning on "+next.Format(time.DateOnly)
			}
		}
		what := "certifications, tier moves and other changes (" + w.state.Status + ")"
		if w.state.Status == domain.StatusAwaitingCertification {
			what = "the required certifications: " + strings.Join(w.state.MissingCertifications, ", ")
		}
		if wake.IsZero() {
			_ = await(ctx, what, w.inbox.pending)
		} else {
			_, _ = awaitUntil(ctx, wake.Sub(now), what, why, w.inbox.pending)
		}
	}
}

// changeTier records the move and tells the partner; a tier the database refuses
// (not the program's) is refused, and nothing changed.
func (w *partnerWorkflow) changeTier(ctx workflow.Context, tc TierChange) error {
	var a *activities.Activities
	w.state.EventSeq++
	tier := tc.TierID
	c := activities.PartnerChange{PartnerID: w.in.PartnerID, Kind: activities.PartnerChangeTierChanged, Status: w.state.Status, Actor: tc.Actor,
		Reason: "to " + tc.TierName + ": " + tc.Reason, At: workflow.Now(ctx), TierID: &tier,
		EventKey: fmt.Sprintf("%s/%d/%s", ids.Partner(w.in.PartnerID), w.state.EventSeq, activities.PartnerChangeTierChanged)}
	err := workflow.ExecuteActivity(summarized(ctx, "tier changed to "+tc.TierName+" by "+tc.Actor), a.RecordPartnerChange, c).Get(ctx, nil)
	if err != nil {
		if refused := recordFailure(err); refused != nil {
			return refused
		}
		return messageError(domain.Conflict("not_recorded", "the tier change could not be recorded: %v", err))
	}
	w.notifyKeyed(ctx, fmt.Sprintf("tier_changed_%d", w.state.EventSeq), "tier_changed", w.in.PartnerID.String(),
		"You are now in the "+tc.TierName+" tier: "+tc.Reason)
	return nil
}

// applyTierReview acts on the review's verdict: promoted at once when it
// qualifies higher; warned (once) and given the grace period when it falls
// below; a warning lifted when it is back within its tier's criteria.
func (w *partnerWorkflow) applyTierReview(ctx workflow.Context, r activities.TierReview) {
	now := workflow.Now(ctx)
	switch {
	case r.TierRank > r.Rank:
		if w.changeTier(ctx, TierChange{TierID: r.TierID, TierName: r.TierName, Actor: "tier-review", Reason: "qualifies at the tier review"}) == nil {
			w.state.TierWarning = nil
		}
	case r.TierRank < r.Rank && w.state.TierWarning == nil:
		until := now.AddDate(0, 0, int(r.GraceDays))
		w.state.TierWarning = &TierWarning{Until: until, TierName: r.TierName}
		w.state.EventSeq++
		w.notifyKeyed(ctx, fmt.Sprintf("tier_warning_%d", w.state.EventSeq), "tier_warning", w.in.PartnerID.String(),
			fmt.Sprintf("You are below your tier's criteria (you qualify for %s): you keep your tier until %s; back within the criteria by then, you stay",
				r.TierName, until.Format(time.DateOnly)))
	case r.TierRank >= r.Rank && w.state.TierWarning != nil:
		w.state.TierWarning = nil
		w.state.EventSeq++
		w.notifyKeyed(ctx, fmt.Sprintf("tier_recovered_%d", w.state.EventSeq), "tier_recovered", w.in.PartnerID.String(),
			"You are back within your tier's criteria: the warning is lifted")
	}
}

// endTierGrace weighs the partner again when its grace ends: still below, it
// drops to the tier it qualifies for now; otherwise it stays.
func (w *partnerWorkflow) endTierGrace(ctx workflow.Context) {
	var a *activities.Activities
	var r *activities.TierReview
	err := workflow.ExecuteActivity(summarized(ctx, "weigh the partner again at the end of its tier grace"), a.ReviewPartnerTier, w.in.ProgramID, w.in.PartnerID).Get(ctx, &r)
	w.state.TierWarning = nil
	if err != nil || r == nil || r.TierRank >= r.Rank {
		return
	}
	_ = w.changeTier(ctx, TierChange{TierID: r.TierID, TierName: r.TierName, Actor: "tier-review", Reason: "below the tier's criteria at the end of the grace period"})
}

// --- validation: pure checks of a message against the current state ---

func (w *partnerWorkflow) validateTierReview(r activities.TierReview) error {
	switch w.state.Status {
	case domain.StatusAwaitingCertification, domain.StatusActive, domain.StatusLapsed:
	default:
		return messageError(domain.Conflict("not_onboarded", "only an onboarded partner is reviewed (status %s)", w.state.Status))
	}
	if r.TierID == uuid.Nil || r.TierName == "" {
		return messageError(domain.Invalid("tier_id", "required", "a review names the tier the partner qualifies for"))
	}
	return nil
}

func (w *partnerWorkflow) validateTierChange(tc TierChange) error {
	switch {
	case tc.Actor == "":
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	case strings.TrimSpace(tc.Reason) == "":
		return messageError(domain.Invalid("reason", "required", "a tier change needs a reason"))
	case tc.TierID == uuid.Nil:
		return messageError(domain.Invalid("tier_id", "required", "tier_id is required"))
	}
	switch w.state.Status {
	case domain.StatusAwaitingCertification, domain.StatusActive, domain.StatusLapsed:
		return nil
	}
	return messageError(domain.Conflict("not_onboarded", "only an onboarded partner changes tier (status %s)", w.state.Status))
}

func (w *partnerWorkflow) validateDecision(approve bool, d Decision) error {
	if w.state.Status != domain.StatusPendingReview || w.inbox.has(PartnerApprove, PartnerReject) {
		return messageError(domain.Conflict("already_decided", "the application is no longer waiting for review (status %s)", w.state.Status))
	}
	if d.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	if !approve && d.Reason == "" {
		return messageError(domain.Invalid("reason", "required", "a rejection needs a reason"))
	}
	return nil
}

func (w *partnerWorkflow) validateAgreement(a AgreementAcceptance) error {
	if w.state.Status != domain.StatusAwaitingAgreement || w.inbox.has(PartnerAcceptAgreement) {
		return messageError(domain.Conflict("not_awaiting_agreement", "the partner is not waiting to accept the agreement (status %s)", w.state.Status))
	}
	if a.Version != w.state.Policy.AgreementVersion {
		return messageError(domain.Invalid("version", "wrong_version", "the current terms version is %q", w.state.Policy.AgreementVersion))
	}
	return nil
}

func (w *partnerWorkflow) validateCertification(now time.Time, c CertificationRecord) error {
	switch w.state.Status {
	case domain.StatusAwaitingCertification, domain.StatusActive, domain.StatusLapsed:
	default:
		return messageError(domain.Conflict("not_ready", "certifications are recorded after approval and agreement (status %s)", w.state.Status))
	}
	if !domain.ValidCertificationName(c.Name) {
		return messageError(domain.Invalid("name", "invalid", "a certification name is a lower-case slug such as sales-fundamentals"))
	}
	if !c.ExpiresAt.After(c.PassedAt) {
		return messageError(domain.Invalid("expires_at", "invalid", "expires_at must be after passed_at"))
	}
	if !c.ExpiresAt.After(now) {
		return messageError(domain.Invalid("expires_at", "in_past", "the certification has already expired"))
	}
	if c.PassedAt.After(now.Add(24 * time.Hour)) {
		return messageError(domain.Invalid("passed_at", "in_future", "passed_at cannot be in the future"))
	}
	if c.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	return nil
}

// --- durable steps ---

// change moves the partner to a new status, recording why, and tells operators
// through the Status search attribute.
func (w *partnerWorkflow) change(ctx workflow.Context, kind activities.PartnerChangeKind, status, step, actor, reason string, extra *activities.PartnerChange) {
	c := activities.PartnerChange{Kind: kind, Status: status, Actor: actor, Reason: reason}
	if extra != nil {
		c.AgreementVersion, c.APIKeyID = extra.AgreementVersion, extra.APIKeyID
	}
	w.record(ctx, c)
	w.state.Status, w.state.Step = status, step
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(status))
}

func (w *partnerWorkflow) record(ctx workflow.Context, c activities.PartnerChange) {
	var a *activities.Activities
	w.state.EventSeq++
	c.PartnerID = w.in.PartnerID
	c.EventKey = fmt.Sprintf("%s/%d/%s", ids.Partner(w.in.PartnerID), w.state.EventSeq, c.Kind)
	c.At = workflow.Now(ctx)
	// Retried until the database takes it: the change has already happened in the
	// workflow, and the activity is idempotent by EventKey.
	summary := string(c.Kind) + " by " + c.Actor
	if c.Reason != "" {
		summary += ": " + c.Reason
	}
	_ = workflow.ExecuteActivity(summarized(ctx, summary), a.RecordPartnerChange, c).Get(ctx, nil)
}

func (w *partnerWorkflow) notify(ctx workflow.Context, kind, recipient, message string) {
	w.notifyKeyed(ctx, kind, kind, recipient, message)
}

// notifyKeyed notifies once per key (a kind may be sent for several subjects).
func (w *partnerWorkflow) notifyKeyed(ctx workflow.Context, key, kind, recipient, message string) {
	var a *activities.Activities
	_ = workflow.ExecuteActivity(summarized(ctx, kind+" to "+recipient), a.Notify, activities.Notification{
		DedupeKey: ids.Partner(w.in.PartnerID) + "/" + key, Kind: kind, Recipient: recipient,
		SubjectType: "partner", SubjectID: w.in.PartnerID, Message: message,
	}).Get(ctx, nil)
}

func (w *partnerWorkflow) historyTooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= partnerHistoryLimit
}

// messageError turns a domain error into the ApplicationError an Update validator
// returns; the API maps it back with DomainError.
func messageError(de *domain.Error) error {
	return temporal.NewNonRetryableApplicationError(de.Message, string(de.Kind), nil, *de)
}
