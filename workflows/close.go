package workflows

// The monthly commission close, one workflow per program and month (ID
// close-<program>-<YYYY-MM>):
//
//	freeze the period's payable lines → compute statements (set-based SQL) → finance review
//	(adjustments; a reminder if nobody signs off within 3 days) → sign-off → one payout workflow per
//	partner with a positive balance (at most 10 at once) → completed when every payout is paid or failed.
//
// Starting a close that exists returns it; the payout child workflows have
// deterministic IDs, so nothing is paid twice.

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

const (
	CloseApprove     = "approve"
	CloseStatusQuery = "status"
	closeReviewSLA   = 3 * 24 * time.Hour
	payoutParallel   = 10
)

type CloseInput struct {
	CloseID   uuid.UUID `json:"close_id"`
	ProgramID uuid.UUID `json:"program_id"`
	Month     time.Time `json:"month"`
}

type CloseDecision struct {
	Actor string `json:"actor"`
}

type CloseState struct {
	Status   string                 `json:"status"` // computing, review, paying, completed
	Totals   activities.CloseTotals `json:"totals"`
	Payouts  int                    `json:"payouts"`
	Paid     int                    `json:"paid"`
	Failed   int                    `json:"failed"`
	SignedBy string                 `json:"signed_by,omitempty"`
}

type closeWorkflow struct {
	in    CloseInput
	st    CloseState
	inbox *inbox
}

func CloseWorkflow(ctx workflow.Context, in CloseInput) (CloseState, error) {
	w := &closeWorkflow{in: in, st: CloseState{Status: domain.CloseComputing}, inbox: newInbox()}
	if err := w.setup(ctx); err != nil {
		return w.st, err
	}
	return w.run(ctx)
}

// setup: the status query and finance's sign-off (an Update, also a Signal),
// accepted only in review.
func (w *closeWorkflow) setup(ctx workflow.Context) error {
	state := func() CloseState { return w.st }
	return errors.Join(
		workflow.SetQueryHandler(ctx, CloseStatusQuery, func() (CloseState, error) { return w.st, nil }),
		serve(ctx, w.inbox, CloseApprove, func(d CloseDecision) error {
			if w.st.Status != domain.CloseReview || w.inbox.has(CloseApprove) {
				return messageError(domain.Conflict("not_in_review", "the close is %s; sign-off happens during review", w.st.Status))
			}
			if d.Actor == "" {
				return messageError(domain.Invalid("actor", "required", "actor is required"))
			}
			return nil
		}, state),
	)
}

func (w *closeWorkflow) run(ctx workflow.Context) (CloseState, error) {
	// The set-based steps may take minutes on a large program; they heartbeat, so a
	// worker that dies mid-step is noticed in 15 s and the step retried elsewhere.
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second}})
	var a *activities.Activities
	in, ib := w.in, w.inbox

	// Freeze and compute, in one transaction.
	if err := workflow.ExecuteActivity(summarized(ctx, "freeze the period's payable lines and compute every partner's statement"), a.ComputeClose, in.CloseID).Get(ctx, &w.st.Totals); err != nil {
		return w.st, fmt.Errorf("compute close: %w", err)
	}
	// The workflow moves first, then records it: whoever sees "review" in the
	// database can sign off at once.
	w.st.Status = domain.CloseReview
	if err := workflow.ExecuteActivity(summarized(ctx, "open for review"), a.SetCloseStatus, in.CloseID, domain.CloseReview, "").Get(ctx, nil); err != nil {
		return w.st, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(w.st.Status))

	// Finance reviews (adjustments recompute the statements through the API) and signs off.
	if ok, _ := awaitUntil(ctx, closeReviewSLA, "finance to review and sign off", "3 days for finance to sign off: remind if not", ib.pending); !ok {
		_ = workflow.ExecuteActivity(summarized(ctx, "close_signoff_reminder to finance"), a.Notify, activities.Notification{
			DedupeKey: ids.Close(in.ProgramID, in.Month) + "/reminder", Kind: "close_signoff_reminder", Recipient: "finance",
			SubjectType: "close", SubjectID: in.CloseID, Message: "The close for " + in.Month.Format("2006-01") + " waits for sign-off",
		}).Get(ctx, nil)
		_ = await(ctx, "finance to sign off (reminded)", ib.pending)
	}
	m := ib.pop()
	w.st.SignedBy, w.st.Status = m.payload.(CloseDecision).Actor, domain.ClosePaying
	if err := workflow.ExecuteActivity(summarized(m.traced(ctx), "signed off by "+w.st.SignedBy), a.SetCloseStatus, in.CloseID, domain.ClosePaying, w.st.SignedBy).Get(ctx, nil); err != nil {
		return w.st, err
	}
	ib.done(m, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(w.st.Status))

	if err := w.pay(ctx); err != nil {
		return w.st, err
	}
	w.st.Status = domain.CloseCompleted
	_ = workflow.ExecuteActivity(summarized(ctx, fmt.Sprintf("completed: %d paid, %d failed", w.st.Paid, w.st.Failed)), a.SetCloseStatus, in.CloseID, domain.CloseCompleted, "").Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(w.st.Status))
	finished(ctx, fmt.Sprintf("completed: %d paid, %d failed", w.st.Paid, w.st.Failed))
	ib.close(messageError(domain.Conflict("not_in_review", "the close is completed")))
	return w.st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// pay runs one payout workflow per partner with something to pay, at most
// payoutParallel at once, and counts how they settled.
func (w *closeWorkflow) pay(ctx workflow.Context) error {
	var a *activities.Activities
	var payouts []activities.PayoutRef
	if err := workflow.ExecuteActivity(summarized(ctx, "create one payout per partner with a positive balance"), a.CreatePayouts, w.in.CloseID).Get(ctx, &payouts); err != nil {
		return err
	}
	w.st.Payouts = len(payouts)
	slots := workflow.NewBufferedChannel(ctx, payoutParallel)
	done := workflow.NewChannel(ctx)
	for _, p := range payouts {
		slots.Send(ctx, struct{}{})
		workflow.Go(ctx, func(ctx workflow.Context) {
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: p.WorkflowID,
				WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY, StaticSummary: orDefault(p.Summary, "payout "+p.ID.String()),
				TypedSearchAttributes: payoutSearchAttributes(p.PartnerID, p.ProgramID)})
			var res PayoutState
			err := workflow.ExecuteChildWorkflow(cctx, PayoutWorkflow, PayoutInput{PayoutID: p.ID, Provider: p.Provider, Attempt: 1}).Get(ctx, &res)
			slots.Receive(ctx, nil)
			done.Send(ctx, err == nil && res.Status == domain.PayoutPaid)
		})
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("paying: %d payouts, waiting for each to settle (a payout held for changed payout details waits for finance)", len(payouts)))
	for range payouts {
		var paid bool
		done.Receive(ctx, &paid)
		if paid {
			w.st.Paid++
		} else {
			w.st.Failed++
		}
	}
	return nil
}

// CloseSchedulerWorkflow runs daily from a Temporal Schedule: it starts the close
// of every program whose close day it is (default the 1st), for the previous
// month. Each close runs on as its own workflow.
func CloseSchedulerWorkflow(ctx workflow.Context) (int, error) {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var due []activities.DueClose
	if err := workflow.ExecuteActivity(summarized(actx, "find the closes due today"), a.DueCloses, workflow.Now(ctx)).Get(ctx, &due); err != nil {
		return 0, err
	}
	for _, d := range due {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: d.WorkflowID, ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
			StaticSummary: orDefault(d.Summary, "close "+d.Month.Format("2006-01")), TypedSearchAttributes: temporal.NewSearchAttributes(SAProgramID.ValueSet(d.ProgramID.String()),
				SAKind.ValueSet("close"), SAStatus.ValueSet(domain.CloseComputing))})
		child := workflow.ExecuteChildWorkflow(cctx, CloseWorkflow, CloseInput{CloseID: d.CloseID, ProgramID: d.ProgramID, Month: d.Month})
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil { // started; it runs on by itself
			return 0, err
		}
	}
	return len(due), nil
}
