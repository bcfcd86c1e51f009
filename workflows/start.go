package workflows

import (
	"context"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// The typed entry points: each process's workflow ID, ID policy and search
// attributes are decided here, once, and nowhere else. The API and the CLI start
// processes only through these.

// once: one workflow per business key, ever; a second start is an error
// (*serviceerror.WorkflowExecutionAlreadyStarted).
func once(id, summary string, sa ...temporal.SearchAttributeUpdate) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue, StaticSummary: summary,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(sa...)}
}

// joined: a start while the process runs joins the running one (no error).
func joined(id, summary string, sa ...temporal.SearchAttributeUpdate) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue, StaticSummary: summary,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(sa...)}
}

// Each starter takes the workflow's static summary (domain.*Summary): what the
// Temporal UI's list shows for it.

// StartPartner begins a partner's onboarding (ID partner-<id>).
func StartPartner(ctx context.Context, c client.Client, in PartnerInput, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, once(ids.Partner(in.PartnerID), summary,
		SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(in.ProgramID.String()),
		SAPartnerType.ValueSet(in.PartnerType), SAKind.ValueSet("partner"), SAStatus.ValueSet(domain.StatusPendingReview)),
		PartnerWorkflow, in)
	return err
}

// StartDeal begins a deal registration (ID deal-<id>).
func StartDeal(ctx context.Context, c client.Client, in DealInput, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, once(ids.Deal(in.DealID), summary,
		SADealID.ValueSet(in.DealID.String()), SAPartnerID.ValueSet(in.PartnerID.String()),
		SAProgramID.ValueSet(in.ProgramID.String()), SAKind.ValueSet("deal"), SAStatus.ValueSet(domain.DealPendingApproval)),
		DealWorkflow, in)
	return err
}

// StartMDF begins an MDF request (ID mdf-<id>).
func StartMDF(ctx context.Context, c client.Client, in MDFInput, programID uuid.UUID, quarter, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, once(ids.MDF(in.RequestID), summary,
		SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(programID.String()),
		SAKind.ValueSet("mdf"), SAQuarter.ValueSet(quarter), SAStatus.ValueSet(MDFPendingApproval)),
		MDFWorkflow, in)
	return err
}

// StartMDFAllocation begins (or joins) the expiry process of a partner's quarter
// allocation (ID mdf-allocation-<partner>-<quarter>).
func StartMDFAllocation(ctx context.Context, c client.Client, in MDFAllocationInput, programID uuid.UUID, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, joined(ids.MDFAllocation(in.PartnerID, in.Quarter), summary,
		SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(programID.String()),
		SAKind.ValueSet("mdf_allocation"), SAQuarter.ValueSet(in.Quarter), SAStatus.ValueSet("open")),
		MDFAllocationWorkflow, in)
	return err
}

// StartConversionReview begins the review of a flagged conversion (ID conversion-review-<id>).
func StartConversionReview(ctx context.Context, c client.Client, in ReviewInput, programID uuid.UUID, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, once(ids.ConversionReview(in.ConversionID), summary,
		SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(programID.String()),
		SAKind.ValueSet("conversion_review"), SAStatus.ValueSet("pending")),
		ConversionReviewWorkflow, in)
	return err
}

// StartClose begins (or joins) a program's monthly close (ID close-<program>-<yyyy-mm>).
func StartClose(ctx context.Context, c client.Client, in CloseInput, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, joined(ids.Close(in.ProgramID, in.Month), summary,
		SAProgramID.ValueSet(in.ProgramID.String()), SAKind.ValueSet("close"), SAStatus.ValueSet(domain.CloseComputing)),
		CloseWorkflow, in)
	return err
}

// RetryPayout runs a failed payout's workflow again, as a new attempt under the
// same ID; it fails with *serviceerror.WorkflowExecutionAlreadyStarted while an
// attempt runs.
func RetryPayout(ctx context.Context, c client.Client, workflowID string, in PayoutInput, partnerID, programID uuid.UUID, summary string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflowID, TaskQueue: TaskQueue, StaticSummary: summary,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true, TypedSearchAttributes: payoutSearchAttributes(partnerID, programID)}, PayoutWorkflow, in)
	return err
}
