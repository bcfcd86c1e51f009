package workflows

// One payout, exactly once (ID payout-<partner>-<close>): the ledger entry is
// written before the provider is called; the provider call carries an
// Idempotency-Key derived from the payout (and attempt), so a retried activity —
// after a crash, or a timeout after the provider acted — cannot pay twice. The
// HTTP provider confirms by callback (a Signal; a second one changes nothing) or
// by polling; a file payout is marked paid by finance.

import (
	"errors"
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
	payoutPollEvery      = 30 * time.Second
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
	Status string `json:"status"` // submitted, paid, failed
	Ref    string `json:"ref,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func PayoutWorkflow(ctx workflow.Context, in PayoutInput) (PayoutState, error) {
	st := PayoutState{Status: domain.PayoutPending}
	var result *activities.ProviderResult
	ib := newInbox()
	state := func() PayoutState { return st }
	decide := func(d PayoutDecision) error {
		if st.Status != domain.PayoutSubmitted || in.Provider != "file" || ib.busy() {
			return messageError(domain.Conflict("not_awaiting", "only a submitted file payout is marked by finance (status %s)", st.Status))
		}
		if d.Actor == "" {
			return messageError(domain.Invalid("actor", "required", "actor is required"))
		}
		return nil
	}
	if err := errors.Join(
		workflow.SetQueryHandler(ctx, PayoutStatusQuery, func() (PayoutState, error) { return st, nil }),
		serve(ctx, ib, PayoutMarkPaid, decide, state),
		serve(ctx, ib, PayoutMarkFailed, decide, state),
	); err != nil {
		return st, err
	}
	// Provider confirmations arrive as signals; the first decides, repeats are ignored.
	confirmations := workflow.GetSignalChannel(ctx, PayoutProviderResult)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r activities.ProviderResult
			confirmations.Receive(ctx, &r)
			if result == nil && (r.Status == domain.PayoutPaid || r.Status == domain.PayoutFailed) {
				result = &r
			}
		}
	})

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *activities.Activities
	if err := workflow.ExecuteActivity(summarized(ctx, "ledger: commission payable → cash"), a.PostPayoutEntry, in.PayoutID, in.Attempt).Get(ctx, nil); err != nil {
		return st, err
	}
	st.Status = domain.PayoutSubmitted // as the row now says; a decision sent meanwhile waits in the queue
	setPayoutStatus(ctx, st.Status)
	var sent activities.ProviderResult
	if err := workflow.ExecuteActivity(summarized(ctx, "send to the "+in.Provider+" provider"), a.SendPayout, in.PayoutID, in.Attempt).Get(ctx, &sent); err != nil {
		sent = activities.ProviderResult{Status: domain.PayoutFailed, Reason: err.Error()}
	}
	st.Ref = sent.Ref
	if sent.Status != domain.PayoutSubmitted && result == nil {
		result = &sent
	}
	var decision *message // finance's mark-paid/mark-failed, answered once settled
	for result == nil {
		if in.Provider == "file" { // a finance decision, after the bank confirms
			_ = workflow.Await(ctx, func() bool { return ib.pending() })
			m := ib.pop()
			d := m.payload.(PayoutDecision)
			r := activities.ProviderResult{Status: map[bool]string{true: "paid", false: "failed"}[m.name == PayoutMarkPaid], Ref: sent.Ref, Reason: d.Reason}
			result, decision = &r, &m
			break
		}
		// HTTP: wait for the callback, polling now and then in case it never comes.
		if ok, _ := awaitUntil(ctx, payoutPollEvery, "wait for the provider's confirmation (then poll)", func() bool { return result != nil }); ok {
			break
		}
		var polled activities.ProviderResult
		if err := workflow.ExecuteActivity(summarized(ctx, "poll the provider"), a.CheckPayout, sent.Ref).Get(ctx, &polled); err == nil && polled.Status != domain.PayoutSubmitted && result == nil {
			result = &polled
		}
	}
	summary := result.Status
	if result.Reason != "" {
		summary += ": " + result.Reason
	}
	if err := workflow.ExecuteActivity(summarized(ctx, "settle: "+summary), a.SettlePayout, in.PayoutID, in.Attempt, *result).Get(ctx, nil); err != nil {
		return st, err
	}
	st.Status, st.Reason = result.Status, result.Reason
	setPayoutStatus(ctx, st.Status)
	if result.Ref != "" {
		st.Ref = result.Ref
	}
	if decision != nil {
		ib.done(*decision, nil)
	}
	ib.close(messageError(domain.Conflict("not_awaiting", "the payout is %s", st.Status)))
	return st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
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
