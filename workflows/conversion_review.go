package workflows

// Review of a conversion flagged as suspicious, one workflow per conversion (ID
// review-<conversion id>). Its commission is held until a manager approves it
// (the line rejoins the holding period) or rejects it (the line is voided),
// with a reminder when the program's review SLA passes.

import (
	"errors"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

const (
	ReviewApprove     = "approve"
	ReviewReject      = "reject"
	ReviewStatusQuery = "status"
)

type ReviewInput struct {
	ConversionID uuid.UUID     `json:"conversion_id"`
	PartnerID    uuid.UUID     `json:"partner_id"`
	SLA          time.Duration `json:"sla"`
	Flags        []string      `json:"flags"`
}

type ReviewDecision struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

type ReviewState struct {
	Status   string          `json:"status"` // pending, approved, rejected
	Flags    []string        `json:"flags"`
	Decision *ReviewDecision `json:"decision,omitempty"`
}

func ConversionReviewWorkflow(ctx workflow.Context, in ReviewInput) (ReviewState, error) {
	st := ReviewState{Status: domain.ReviewPending, Flags: in.Flags}
	ib := newInbox()
	state := func() ReviewState { return st }
	validate := func(reject bool) func(ReviewDecision) error {
		return func(d ReviewDecision) error {
			if st.Status != domain.ReviewPending || ib.has(ReviewApprove, ReviewReject) {
				return messageError(domain.Conflict("already_decided", "the conversion was already reviewed (%s)", st.Status))
			}
			if d.Actor == "" {
				return messageError(domain.Invalid("actor", "required", "actor is required"))
			}
			if reject && d.Reason == "" {
				return messageError(domain.Invalid("reason", "required", "a rejection needs a reason"))
			}
			return nil
		}
	}
	if err := errors.Join(
		workflow.SetQueryHandler(ctx, ReviewStatusQuery, func() (ReviewState, error) { return st, nil }),
		serve(ctx, ib, ReviewApprove, validate(false), state),
		serve(ctx, ib, ReviewReject, validate(true), state),
	); err != nil {
		return st, err
	}
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var a *activities.Activities
	if ok, _ := awaitUntil(ctx, in.SLA, "a manager's decision on the flagged conversion", "review SLA: remind managers if still undecided", ib.pending); !ok {
		_ = workflow.ExecuteActivity(summarized(ctx, "conversion_review_reminder to manager"), a.Notify, activities.Notification{
			DedupeKey: ids.ConversionReview(in.ConversionID) + "/reminder", Kind: "conversion_review_reminder", Recipient: "manager",
			SubjectType: "conversion", SubjectID: in.ConversionID, Message: "A flagged conversion waits for review",
		}).Get(ctx, nil)
		_ = await(ctx, "a manager's decision on the flagged conversion (reminded)", ib.pending)
	}
	m := ib.pop()
	d := m.payload.(ReviewDecision)
	approved := m.name == ReviewApprove
	st.Status, st.Decision = map[bool]string{true: "approved", false: "rejected"}[approved], &d
	summary := st.Status + " by " + d.Actor
	if d.Reason != "" {
		summary += ": " + d.Reason
	}
	err := workflow.ExecuteActivity(summarized(m.traced(ctx), summary), a.ResolveConversionReview, in.ConversionID, approved).Get(ctx, nil)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SAStatus.ValueSet(st.Status))
	ib.done(m, nil)
	ib.close(messageError(domain.Conflict("already_decided", "the conversion was already reviewed (%s)", st.Status)))
	finished(ctx, summary)
	if err != nil {
		return st, err
	}
	return st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// CommissionPayableWorkflow runs the set-based holding period: every line whose
// hold has passed (and is neither voided nor held for review) becomes payable.
// A Temporal Schedule starts it every 15 minutes.
func CommissionPayableWorkflow(ctx workflow.Context) (int64, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var n int64
	err := workflow.ExecuteActivity(summarized(ctx, "make commission lines past their holding period payable"), a.MakeCommissionsPayable, workflow.Now(ctx)).Get(ctx, &n)
	return n, err
}
