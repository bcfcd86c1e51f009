// Package workflows holds partnerops' long-lived processes, one file per process.
// Workflow code is deterministic: time comes from workflow.Now, concurrency from
// workflow.Go, and every side effect is an activity.
package workflows

import (
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
)

// TaskQueue is where every partnerops workflow and activity runs.
const TaskQueue = "partnerops"

// Search attributes an operator filters by in the Temporal UI, prefixed with
// Partnerops so they never collide with another application's in a shared
// namespace. The dev server registers them at start, migrate and the worker on a
// real server (SearchAttributes lists them for that).
var (
	SAPartnerID   = temporal.NewSearchAttributeKeyKeyword("PartneropsPartnerId")
	SAProgramID   = temporal.NewSearchAttributeKeyKeyword("PartneropsProgramId")
	SAPartnerType = temporal.NewSearchAttributeKeyKeyword("PartneropsPartnerType")
	SAKind        = temporal.NewSearchAttributeKeyKeyword("PartneropsKind")
	SAStatus      = temporal.NewSearchAttributeKeyKeyword("PartneropsStatus")
	SADealID      = temporal.NewSearchAttributeKeyKeyword("PartneropsDealId")
	SAExpiresAt   = temporal.NewSearchAttributeKeyTime("PartneropsExpiresAt")
	SAQuarter     = temporal.NewSearchAttributeKeyKeyword("PartneropsQuarter")
)

// SearchAttributes names every custom search attribute and its type.
var SearchAttributes = map[string]enums.IndexedValueType{
	SAPartnerID.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAProgramID.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAPartnerType.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAKind.GetName():        enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAStatus.GetName():      enums.INDEXED_VALUE_TYPE_KEYWORD,
	SADealID.GetName():      enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAExpiresAt.GetName():   enums.INDEXED_VALUE_TYPE_DATETIME,
	SAQuarter.GetName():     enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// Activities are short database transactions: retried with backoff until the
// database answers, except for errors marked non-retryable.
var defaultActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// Register puts every workflow and the activities on a worker.
func Register(w worker.Worker, a *activities.Activities) {
	w.RegisterWorkflow(PartnerWorkflow)
	w.RegisterWorkflow(DealWorkflow)
	w.RegisterWorkflow(MDFWorkflow)
	w.RegisterWorkflow(MDFAllocationWorkflow)
	w.RegisterWorkflow(ConversionReviewWorkflow)
	w.RegisterWorkflow(CommissionPayableWorkflow)
	w.RegisterWorkflow(CloseWorkflow)
	w.RegisterWorkflow(PayoutWorkflow)
	w.RegisterWorkflow(CloseSchedulerWorkflow)
	w.RegisterWorkflow(MDFQuarterStartWorkflow)
	w.RegisterWorkflow(HousekeepingWorkflow)
	w.RegisterWorkflow(TierReviewWorkflow)
	w.RegisterWorkflowWithOptions(EmailDelivery, workflow.RegisterOptions{Name: activities.EmailDeliveryWorkflow})
	w.RegisterWorkflowWithOptions(WebhookDelivery, workflow.RegisterOptions{Name: activities.WebhookDeliveryWorkflow})
	w.RegisterActivity(a)
}

// listen serves a signal with the same validation an Update gets: an invalid
// signal is logged and dropped (it cannot be refused like an Update).
func listen[T any](ctx workflow.Context, name string, validate func(T) error, apply func(T)) {
	ch := workflow.GetSignalChannel(ctx, name)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var msg T
			ch.Receive(ctx, &msg)
			if err := validate(msg); err != nil {
				workflow.GetLogger(ctx).Warn("signal ignored", "signal", name, "error", err)
				continue
			}
			apply(msg)
		}
	})
}

// pendingSignals reports whether any of the named signal channels holds a message
// not yet received, so Continue-As-New does not drop it.
func pendingSignals(ctx workflow.Context, names ...string) bool {
	for _, n := range names {
		if workflow.GetSignalChannel(ctx, n).Len() > 0 {
			return true
		}
	}
	return false
}

// DomainError recovers the domain error a workflow's Update validator or handler
// returned, so the API can map it to the same HTTP status as any other.
func DomainError(err error) (*domain.Error, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return nil, false
	}
	var de domain.Error
	if appErr.HasDetails() && appErr.Details(&de) == nil && de.Kind != "" {
		return &de, true
	}
	return nil, false
}

// summarized labels the next activity with a line the Temporal UI shows, so an
// operator reads the history in business words.
func summarized(ctx workflow.Context, summary string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	return workflow.WithActivityOptions(ctx, opts)
}

// awaitUntil waits for cond — what it waits for, in business words ("a
// manager's decision") — or until d has passed, on a timer the UI shows with
// summary. The workflow's current details say what it waits for and until when,
// and the timer is cancelled when cond comes first (histories recorded before
// cancel-wait-timers replay the way they ran).
func awaitUntil(ctx workflow.Context, d time.Duration, what, summary string, cond func() bool) (bool, error) {
	until := workflow.Now(ctx).Add(d)
	workflow.SetCurrentDetails(ctx, "waiting for "+what+", until "+until.UTC().Format("2006-01-02 15:04 UTC")+" ("+summary+")")
	if workflow.GetVersion(ctx, "cancel-wait-timers", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary}}, cond)
	}
	if cond() {
		return true, nil
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel() // a wait that ended early leaves no timer running in the history
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: summary})
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		return false, err
	}
	return cond(), nil
}

// orDefault is s, or def when s is empty (an activity result recorded before s was added).
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// await waits for cond with no deadline; the current details say what for.
func await(ctx workflow.Context, what string, cond func() bool) error {
	workflow.SetCurrentDetails(ctx, "waiting for "+what)
	return workflow.Await(ctx, cond)
}

// finished ends the workflow's current details with its outcome.
func finished(ctx workflow.Context, outcome string) {
	workflow.SetCurrentDetails(ctx, "done: "+outcome)
}

// recordFailure turns an activity that failed for good (the database refused the
// data: activities.ErrPermanent, or retries ran out) into the refusal an Update
// answers with; a refusal the workflow decided itself, or none, gives nil.
func recordFailure(err error) error {
	if err == nil {
		return nil
	}
	var actErr *temporal.ActivityError
	if !errors.As(err, &actErr) {
		return nil
	}
	msg := err.Error()
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		msg = appErr.Message()
	}
	return messageError(domain.Invalid("", "not_recorded", "the change could not be recorded and was not made: %s", msg))
}
