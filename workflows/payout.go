package workflows

// One payout, exactly once (ID payout-<partner>-<close>): the ledger entry is
// written before the provider is called; the provider call carries an
// Idempotency-Key derived from the payout (and attempt), so a retried activity —
// after a crash, or a timeout after the provider acted — cannot pay twice. The
// HTTP provider confirms by callback (a Signal; a second one changes nothing) or
// by polling; a file payout is marked paid by finance.
//
// It pays one version of the partner's payout details, pinned before the ledger
// entry: the latest, once finance has confirmed it. A change nobody confirmed
// holds the payout (status held) until finance does (the details-confirmed
// Signal, or the check every few hours); it never pays unconfirmed details.

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

const (
	PayoutProviderResult = "provider-result" // the payments webhook, as a Signal
	PayoutMarkPaid       = "mark-paid"       // finance, for file payouts
	PayoutMarkFailed     = "mark-failed"
	PayoutStatusQuery    = "status"
	// PayoutDetailsConfirmed: finance confirmed the partner's changed details (sent by the API).
	PayoutDetailsConfirmed = "details-confirmed"
	payoutPollEvery        = 30 * time.Second
	payoutHeldRecheck      = 6 * time.Hour // in case a confirmation's Signal was lost
)

type PayoutInput struct {
	PayoutID uuid.UUID `json:"payout_id"`
	Provider string    `json:"provider"`
	Attempt  int       `json:"attempt"` // 1, then one more for each retry by finance
}

type PayoutDecision struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

type PayoutState struct {
	Status string `json:"status"` // pending, held, submitted, paid, failed
	Ref    string `json:"ref,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type payoutWorkflow struct {
	in     PayoutInput
	st     PayoutState
	inbox  *inbox
	result *activities.ProviderResult // the provider's (or finance's) word, once known
}

func PayoutWorkflow(ctx workflow.Context, in PayoutInput) (PayoutState, error) {
	w := &payoutWorkflow{in: in, st: PayoutState{Status: domain.PayoutPending}, inbox: newInbox()}
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}
	return w.run(ctx)
}

// setup: the status query, finance's mark-paid/mark-failed for a submitted file
// payout (Updates, also Signals), and the provider's confirmations (Signals: the
// first decides, repeats are ignored).
func (w *payoutWorkflow) setup(ctx workflow.Context) error {
	state := func() PayoutState { return w.st }
	decide := func(d PayoutDecision) error {
		if w.st.Status != domain.PayoutSubmitted || w.in.Provider != "file" || w.inbox.busy() {
			return messageError(domain.Conflict("not_awaiting", "only a submitted file payout is marked by finance (status %s)", w.st.Status))
		}
		if d.Actor == "" {
			return messageError(domain.Invalid("actor", "required", "actor is required"))
		}
		return nil
	}
	if err := errors.Join(
		workflow.SetQueryHandler(ctx, PayoutStatusQuery, func() (PayoutState, error) { return w.st, nil }),
		serve(ctx, w.inbox, PayoutMarkPaid, decide, state),
		serve(ctx, w.inbox, PayoutMarkFailed, decide, state),
	); err != nil {
		return err
	}
	confirmations := workflow.GetSignalChannel(ctx, PayoutProviderResult)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r activities.ProviderResult
			confirmations.Receive(ctx, &r)
			if w.result == nil && (r.Status == domain.PayoutPaid || r.Status == domain.PayoutFailed) {
				w.result = &r
			}
		}
	})
	return nil
}

func (w *payoutWorkflow) run(ctx workflow.Context) (PayoutState, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *activities.Activities
	in, ib := w.in, w.inbox
	if workflow.GetVersion(ctx, "payout-details-versions", workflow.DefaultVersion, 1) == 1 {
		if err := awaitConfirmedDetails(ctx, in, &w.st); err != nil {
			return w.st, err
		}
	}
	if err := workflow.ExecuteActivity(summarized(ctx, "ledger: commission payable → cash"), a.PostPayoutEntry, in.PayoutID, in.Attempt).Get(ctx, nil); err != nil {
		return w.st, err
	}
	w.st.Status = domain.PayoutSubmitted // as the row now says; a decision sent meanwhile waits in the queue
	setPayoutStatus(ctx, w.st.Status)
	var sent activities.ProviderResult
	if err := workflow.ExecuteActivity(summarized(ctx, "send to the "+in.Provider+" provider"), a.SendPayout, in.PayoutID, in.Attempt).Get(ctx, &sent); err != nil {
		sent = activities.ProviderResult{Status: domain.PayoutFailed, Reason: err.Error()}
	}
	w.st.Ref = sent.Ref
	if sent.Status != domain.PayoutSubmitted && w.result == nil {
		w.result = &sent
	}
	decision := w.awaitOutcome(ctx, sent)
	result := w.result
	summary := result.Status
	if result.Reason != "" {
		summary += ": " + result.Reason
	}
	sctx := ctx
	if decision != nil {
		sctx = decision.traced(ctx) // finance's mark-paid: in its request's trace
	}
	if err := workflow.ExecuteActivity(summarized(sctx, "settle: "+summary), a.SettlePayout, in.PayoutID, in.Attempt, *result).Get(ctx, nil); err != nil {
		return w.st, err
	}
	w.st.Status, w.st.Reason = result.Status, result.Reason
	setPayoutStatus(ctx, w.st.Status)
	finished(ctx, summary)
	if result.Ref != "" {
		w.st.Ref = result.Ref
	}
	if decision != nil {
		ib.done(*decision, nil)
	}
	ib.close(messageError(domain.Conflict("not_awaiting", "the payout is %s", w.st.Status)))
	return w.st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// awaitOutcome waits for the transfer's outcome: finance's word for a bank file
// (the message, answered once settled), the provider's callback or its answer
// to a poll for the HTTP provider.
func (w *payoutWorkflow) awaitOutcome(ctx workflow.Context, sent activities.ProviderResult) *message {
	var a *activities.Activities
	for w.result == nil {
		if w.in.Provider == "file" { // a finance decision, after the bank confirms
			_ = await(ctx, "finance to mark the bank-file payout paid or failed", func() bool { return w.inbox.pending() })
			m := w.inbox.pop()
			d := m.payload.(PayoutDecision)
			r := activities.ProviderResult{Status: map[bool]string{true: "paid", false: "failed"}[m.name == PayoutMarkPaid], Ref: sent.Ref, Reason: d.Reason}
			w.result = &r
			return &m
		}
		// HTTP: wait for the callback, polling now and then in case it never comes.
		if ok, _ := awaitUntil(ctx, payoutPollEvery, "the provider's confirmation", "wait for the provider's confirmation (then poll)", func() bool { return w.result != nil }); ok {
			break
		}
		var polled activities.ProviderResult
		if err := workflow.ExecuteActivity(summarized(ctx, "poll the provider"), a.CheckPayout, sent.Ref).Get(ctx, &polled); err == nil && polled.Status != domain.PayoutSubmitted && w.result == nil {
			w.result = &polled
		}
	}
	return nil
}

// awaitConfirmedDetails pins the payout to the details it pays, holding it while
// the partner's latest details wait for finance's confirmation.
func awaitConfirmedDetails(ctx workflow.Context, in PayoutInput, st *PayoutState) error {
	var a *activities.Activities
	confirmations := 0
	ch := workflow.GetSignalChannel(ctx, PayoutDetailsConfirmed)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			ch.Receive(ctx, nil)
			confirmations++
		}
	})
	for {
		seen := confirmations
		var p activities.PayoutPrepared
		if err := workflow.ExecuteActivity(summarized(ctx, "pin the payout details it pays"), a.PreparePayout, in.PayoutID).Get(ctx, &p); err != nil {
			return err
		}
		if !p.Held {
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("paying payout details version %d: %s", p.Version, p.Destination))
			if st.Status == domain.PayoutHeld {
				st.Status, st.Reason = domain.PayoutPending, ""
				setPayoutStatus(ctx, st.Status)
			}
			return nil
		}
		if st.Status != domain.PayoutHeld {
			st.Status, st.Reason = domain.PayoutHeld, p.Reason
			setPayoutStatus(ctx, st.Status)
			_ = workflow.ExecuteActivity(summarized(ctx, "payout_held to finance"), a.Notify, activities.Notification{
				DedupeKey: fmt.Sprintf("payout/%s/held/%d/%d", in.PayoutID, in.Attempt, p.Version), Kind: "payout_held", Recipient: "finance",
				SubjectType: "payout", SubjectID: in.PayoutID, Message: "A payout is held: " + p.Reason,
			}).Get(ctx, nil)
		}
		_, _ = awaitUntil(ctx, payoutHeldRecheck, "finance to confirm the partner's changed payout details (held: "+p.Reason+")", "check again whether finance confirmed the changed payout details", func() bool { return confirmations > seen })
	}
}

// payoutSearchAttributes let operators filter payouts: Kind = "payout" AND Status = "failed".
func payoutSearchAttributes(partnerID, programID uuid.UUID) temporal.SearchAttributes {
	sa := []temporal.SearchAttributeUpdate{SAKind.ValueSet("payout"), SAStatus.ValueSet(domain.PayoutPending)}
	if partnerID != uuid.Nil {
		sa = append(sa, SAPartnerID.ValueSet(partnerID.String()))
	}
	if programID != uuid.Nil {
		sa = append(sa, SAProgramID.ValueSet(programID.String()))
	}
	return temporal.NewSearchAttributes(sa...)
}

// setStatus keeps the Status search attribute current (histories recorded before
// it was added replay without it).
func setPayoutStatus(ctx workflow.Context, status string) {
	if workflow.GetVersion(ctx, "payout-status-search-attribute", workflow.DefaultVersion, 1) == 1 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(status))
	}
}
