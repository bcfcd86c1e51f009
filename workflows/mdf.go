package workflows

// MDF request to reimbursement, one workflow per request (ID mdf-<id>). The API
// reserves the requested amount when it starts the workflow.
//
//	pending_approval ──approve (full or partial)──▶ approved ──claim with proof──▶ claimed ──approve-claim──▶ reimbursable
//	   │ SLA: reminder, escalation at 2×                │ claim deadline passes         │ ──reject-claim──▶ claim_rejected
//	   ├──reject──▶ rejected                             ▼                               └─request-proof (once)─▶ pending_proof
//	   └──withdraw──▶ withdrawn                       expired                                 │ resubmitted claim → claimed
//	                                                                                          └ proof deadline passes → expired
//
// Every step that moves money posts a balanced ledger entry (activities.RecordMDFChange):
// rejection, withdrawal and missed deadlines release what was held.

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// Messages the MDF workflow accepts, each as an Update and as a Signal.
const (
	MDFApprove      = "approve"
	MDFReject       = "reject"
	MDFWithdraw     = "withdraw"
	MDFClaim        = "claim"
	MDFApproveClaim = "approve-claim"
	MDFRejectClaim  = "reject-claim"
	MDFRequestProof = "request-proof"
	MDFStatusQuery  = "status"
)

// MDF request statuses.
const (
	MDFPendingApproval = "pending_approval"
	MDFApproved        = "approved"
	MDFClaimed         = "claimed"
	MDFPendingProof    = "pending_proof"
	MDFReimbursable    = "reimbursable"
	MDFRejected        = "rejected"
	MDFClaimRejected   = "claim_rejected"
	MDFWithdrawn       = "withdrawn"
	MDFExpired         = "expired"
)

// MDFInput carries what validation needs from the first moment (a decision may
// arrive before the policy is loaded): the reserved amount and its currency.
type MDFInput struct {
	RequestID uuid.UUID       `json:"request_id"`
	PartnerID uuid.UUID       `json:"partner_id"`
	Requested decimal.Decimal `json:"requested"`
	Currency  string          `json:"currency"`
}

// MDFDecision is a manager's decision; Amount (optional) approves part of the
// request or of the claim.
type MDFDecision struct {
	Actor  string           `json:"actor"`
	Reason string           `json:"reason,omitempty"`
	Amount *decimal.Decimal `json:"amount,omitempty"`
}

// MDFClaimInput is a partner's claim: the amount spent, results and proof files
// (uploaded by the API before the claim is sent).
type MDFClaimInput struct {
	Actor   string           `json:"actor"`
	Amount  decimal.Decimal  `json:"amount"`
	Results map[string]int64 `json:"results"`
	FileIDs []uuid.UUID      `json:"file_ids"`
}

type MDFState struct {
	Status         string               `json:"status"`
	Policy         activities.MDFPolicy `json:"policy"`
	Reserved       decimal.Decimal      `json:"reserved"`
	Approved       decimal.Decimal      `json:"approved"` // approved and not (yet) claimed
	Claimed        decimal.Decimal      `json:"claimed"`
	Reimbursable   decimal.Decimal      `json:"reimbursable"`
	ClaimDeadline  *time.Time           `json:"claim_deadline,omitempty"`
	ProofDeadline  *time.Time           `json:"proof_deadline,omitempty"`
	ProofRequested bool                 `json:"proof_requested"`
	EventSeq       int                  `json:"event_seq"`
}

type mdfWorkflow struct {
	in    MDFInput
	state MDFState
	inbox *inbox
}

func MDFWorkflow(ctx workflow.Context, in MDFInput) (MDFState, error) {
	w := &mdfWorkflow{in: in, inbox: newInbox(), state: MDFState{Status: MDFPendingApproval, Reserved: in.Requested,
		Policy: activities.MDFPolicy{Requested: in.Requested, Currency: in.Currency}}}
	if err := w.setup(ctx); err != nil {
		return MDFState{}, err
	}
	return w.run(ctx)
}

func (w *mdfWorkflow) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, MDFStatusQuery, func() (MDFState, error) { return w.state, nil }); err != nil {
		return err
	}
	state := func() MDFState { return w.state }
	errs := []error{
		serve(ctx, w.inbox, MDFWithdraw, func(d MDFDecision) error { return w.validate(MDFWithdraw, d) }, state),
		serve(ctx, w.inbox, MDFClaim, func(c MDFClaimInput) error { return w.validateClaim(workflow.Now(ctx), c) }, state),
	}
	for _, name := range []string{MDFApprove, MDFReject, MDFApproveClaim, MDFRejectClaim, MDFRequestProof} {
		errs = append(errs, serve(ctx, w.inbox, name, func(d MDFDecision) error { return w.validate(name, d) }, state))
	}
	return errors.Join(errs...)
}

func (w *mdfWorkflow) run(ctx workflow.Context) (MDFState, error) {
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var a *activities.Activities
	if err := workflow.ExecuteActivity(summarized(ctx, "load the program's MDF SLA and claim windows"), a.LoadMDFPolicy, w.in.RequestID).Get(ctx, &w.state.Policy); err != nil {
		return w.state, fmt.Errorf("load MDF policy: %w", err)
	}

	// Pre-approval within the SLA: a reminder at the SLA, an escalation at twice it.
	sla := w.state.Policy.ApprovalSLA
	decided := func() bool { return w.inbox.pending() }
	if ok, _ := awaitUntil(ctx, sla, "a manager's pre-approval", "MDF approval SLA: remind managers if still undecided", decided); !ok {
		w.notify(ctx, "mdf_approval_reminder", "manager", "MDF request waiting for pre-approval for "+sla.String())
		if ok, _ := awaitUntil(ctx, sla, "a manager's pre-approval (reminded)", "twice the MDF approval SLA: escalate if still undecided", decided); !ok {
			w.notify(ctx, "mdf_approval_escalation", "admin", "MDF request undecided after "+(2*sla).String())
		}
	}
	for {
		if ended := w.processInbox(ctx); ended {
			return w.finish(ctx)
		}
		// Waiting for a decision, a claim (until the claim deadline) or more proof
		// (until the proof deadline); a deadline that passes releases the funds.
		deadline, summary := w.deadline()
		if deadline == nil {
			_ = await(ctx, mdfWaitingFor(w.state.Status), w.inbox.pending)
			continue
		}
		if ok, _ := awaitUntil(ctx, deadline.Sub(workflow.Now(ctx)), mdfWaitingFor(w.state.Status), summary+": funds released if it passes", w.inbox.pending); ok {
			continue
		}
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangeExpired, Actor: "system", Reason: summary + " passed without a claim",
			Claimed: w.state.Claimed, Approved: w.state.Approved}, MDFExpired)
		w.state.Claimed, w.state.Approved = decimal.Zero, decimal.Zero
		return w.finish(ctx)
	}
}

// mdfWaitingFor says, in business words, what a request in status waits for.
func mdfWaitingFor(status string) string {
	switch status {
	case MDFPendingApproval:
		return "a manager's pre-approval (reminded and escalated)"
	case MDFApproved:
		return "the partner's claim with proof of performance"
	case MDFClaimed:
		return "a manager's review of the claim"
	case MDFPendingProof:
		return "the partner's further proof"
	}
	return "the request's next step (" + status + ")"
}

func (w *mdfWorkflow) deadline() (*time.Time, string) {
	switch w.state.Status {
	case MDFApproved:
		return w.state.ClaimDeadline, "claim deadline " + w.state.ClaimDeadline.Format(time.DateOnly)
	case MDFPendingProof:
		return w.state.ProofDeadline, "proof deadline " + w.state.ProofDeadline.Format(time.DateOnly)
	}
	return nil, ""
}

// processInbox carries out queued messages in order; it reports whether the request ended.
func (w *mdfWorkflow) processInbox(ctx workflow.Context) bool {
	for w.inbox.pending() {
		m := w.inbox.pop()
		ended := w.apply(m.traced(ctx), m)
		w.inbox.done(m, nil)
		if ended {
			return true
		}
	}
	return false
}

func (w *mdfWorkflow) apply(ctx workflow.Context, m message) (ended bool) {
	now := workflow.Now(ctx)
	switch m.name {
	case MDFApprove:
		d := m.payload.(MDFDecision)
		amount := w.state.Reserved
		if d.Amount != nil {
			amount = *d.Amount
		}
		deadline := w.state.Policy.ActivityEnd.Add(w.state.Policy.ClaimWindow)
		reason := fmt.Sprintf("approved %s of %s %s; claim by %s", amount.StringFixed(2), w.state.Reserved.StringFixed(2), w.state.Policy.Currency, deadline.Format(time.DateOnly))
		if d.Reason != "" {
			reason += ": " + d.Reason
		}
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangePreApproved, Actor: d.Actor, Reason: reason, Reserved: w.state.Reserved, Amount: amount, Deadline: &deadline}, MDFApproved)
		w.state.Reserved, w.state.Approved, w.state.ClaimDeadline = decimal.Zero, amount, &deadline
	case MDFReject, MDFWithdraw:
		d := m.payload.(MDFDecision)
		kind, status := activities.MDFChangeRejected, MDFRejected
		if m.name == MDFWithdraw {
			kind, status = activities.MDFChangeWithdrawn, MDFWithdrawn
		}
		w.change(ctx, activities.MDFChange{Kind: kind, Actor: d.Actor, Reason: d.Reason, Reserved: w.state.Reserved}, status)
		w.state.Reserved = decimal.Zero
		return true
	case MDFClaim:
		c := m.payload.(MDFClaimInput)
		unclaim := w.state.Claimed // a resubmission after more proof replaces the earlier claim
		w.state.Approved = w.state.Approved.Add(unclaim)
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangeClaimed, Actor: c.Actor, Reason: fmt.Sprintf("claimed %s %s with %d file(s)", c.Amount.StringFixed(2), w.state.Policy.Currency, len(c.FileIDs)),
			Amount: c.Amount, Unclaim: unclaim, Results: c.Results, FileCount: len(c.FileIDs)}, MDFClaimed)
		w.state.Approved, w.state.Claimed = w.state.Approved.Sub(c.Amount), c.Amount
	case MDFRequestProof:
		d := m.payload.(MDFDecision)
		deadline := now.Add(w.state.Policy.ProofWindow)
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangeProofRequested, Actor: d.Actor, Reason: d.Reason + "; resubmit by " + deadline.Format(time.DateOnly), Deadline: &deadline}, MDFPendingProof)
		w.state.ProofRequested, w.state.ProofDeadline = true, &deadline
		w.notify(ctx, "mdf_proof_requested", w.in.PartnerID.String(), "More proof is needed for your MDF claim: "+d.Reason)
	case MDFApproveClaim:
		d := m.payload.(MDFDecision)
		accepted := w.state.Claimed
		if d.Amount != nil {
			accepted = *d.Amount
		}
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangeClaimApproved, Actor: d.Actor, Reason: fmt.Sprintf("reimburse %s of %s %s claimed", accepted.StringFixed(2), w.state.Claimed.StringFixed(2), w.state.Policy.Currency),
			Claimed: w.state.Claimed, Approved: w.state.Approved, Amount: accepted}, MDFReimbursable)
		w.state.Reimbursable, w.state.Claimed, w.state.Approved = accepted, decimal.Zero, decimal.Zero
		return true
	case MDFRejectClaim:
		d := m.payload.(MDFDecision)
		w.change(ctx, activities.MDFChange{Kind: activities.MDFChangeClaimRejected, Actor: d.Actor, Reason: d.Reason, Claimed: w.state.Claimed, Approved: w.state.Approved}, MDFClaimRejected)
		w.state.Claimed, w.state.Approved = decimal.Zero, decimal.Zero
		return true
	}
	return false
}

// --- validation ---

func (w *mdfWorkflow) validate(name string, d MDFDecision) error {
	if d.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	st := w.state.Status
	switch name {
	case MDFApprove, MDFReject, MDFWithdraw:
		if st != MDFPendingApproval || w.inbox.has(MDFApprove, MDFReject, MDFWithdraw) {
			return messageError(domain.Conflict("already_decided", "the request is no longer waiting for pre-approval (status %s)", st))
		}
		if name == MDFApprove && d.Amount != nil && !w.amountWithin(*d.Amount, w.state.Reserved) {
			return messageError(domain.Invalid("amount", "invalid", "amount must be positive and at most the requested %s", w.state.Reserved.StringFixed(2)))
		}
	case MDFApproveClaim, MDFRejectClaim, MDFRequestProof:
		if st != MDFClaimed || w.inbox.has(MDFApproveClaim, MDFRejectClaim, MDFRequestProof) {
			return messageError(domain.Conflict("no_claim_to_review", "there is no claim waiting for review (status %s)", st))
		}
		if name == MDFRequestProof && w.state.ProofRequested {
			return messageError(domain.Conflict("proof_already_requested", "more proof can be asked for once"))
		}
		if name == MDFApproveClaim && d.Amount != nil && !w.amountWithin(*d.Amount, w.state.Claimed) {
			return messageError(domain.Invalid("amount", "invalid", "amount must be positive and at most the claimed %s", w.state.Claimed.StringFixed(2)))
		}
	}
	if (name == MDFReject || name == MDFRejectClaim || name == MDFRequestProof) && d.Reason == "" {
		return messageError(domain.Invalid("reason", "required", "a reason is required"))
	}
	return nil
}

func (w *mdfWorkflow) validateClaim(now time.Time, c MDFClaimInput) error {
	st := w.state.Status
	if (st != MDFApproved && st != MDFPendingProof) || w.inbox.has(MDFClaim) {
		return messageError(domain.Conflict("not_claimable", "a claim is made once the request is pre-approved, or when more proof was asked for (status %s)", st))
	}
	if now.Before(w.state.Policy.ActivityEnd) {
		return messageError(domain.Conflict("activity_not_ended", "claims open when the activity has ended (%s)", w.state.Policy.ActivityEnd.Format(time.DateOnly)))
	}
	if c.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	if !w.amountWithin(c.Amount, w.state.Approved.Add(w.state.Claimed)) {
		return messageError(domain.Invalid("amount", "invalid", "amount must be positive and at most the approved %s", w.state.Approved.Add(w.state.Claimed).StringFixed(2)))
	}
	if len(c.FileIDs) == 0 {
		return messageError(domain.Invalid("files", "required", "a claim needs proof of performance: at least one file"))
	}
	return nil
}

func (w *mdfWorkflow) amountWithin(amount, max decimal.Decimal) bool {
	return domain.ValidAmount(amount, w.state.Policy.Currency) && amount.LessThanOrEqual(max)
}

// --- durable steps ---

func (w *mdfWorkflow) change(ctx workflow.Context, c activities.MDFChange, status string) {
	var a *activities.Activities
	w.state.Status = status // first, so messages validated meanwhile see the new state
	w.state.EventSeq++
	c.RequestID, c.Status, c.At = w.in.RequestID, status, workflow.Now(ctx)
	c.EventKey = fmt.Sprintf("%s/%d/%s", ids.MDF(w.in.RequestID), w.state.EventSeq, c.Kind)
	summary := string(c.Kind) + " by " + c.Actor
	if c.Reason != "" {
		summary += ": " + c.Reason
	}
	_ = workflow.ExecuteActivity(summarized(ctx, summary), a.RecordMDFChange, c).Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(status))
}

func (w *mdfWorkflow) notify(ctx workflow.Context, kind, recipient, message string) {
	var a *activities.Activities
	_ = workflow.ExecuteActivity(summarized(ctx, kind+" to "+recipient), a.Notify, activities.Notification{
		DedupeKey: ids.MDF(w.in.RequestID) + "/" + kind, Kind: kind, Recipient: recipient,
		SubjectType: "mdf_request", SubjectID: w.in.RequestID, Message: message,
	}).Get(ctx, nil)
}

func (w *mdfWorkflow) finish(ctx workflow.Context) (MDFState, error) {
	finished(ctx, w.state.Status)
	w.inbox.close(messageError(domain.Conflict("request_closed", "the request is %s", w.state.Status)))
	return w.state, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
