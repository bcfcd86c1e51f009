package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
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
//
// A start is data first (Start): the API records it in the transaction that
// writes its record and makes it after the commit (package starts), and the
// workers' sweep makes what a crash or an unreachable Temporal left unmade.

// The kinds of Start, one per starter.
const (
	StartKindPartner          = "partner"
	StartKindDeal             = "deal"
	StartKindMDF              = "mdf"
	StartKindMDFAllocation    = "mdf_allocation"
	StartKindConversionReview = "conversion_review"
	StartKindClose            = "close"
	StartKindPayoutRetry      = "payout_retry"
)

// Start is one workflow start as data: which starter (Kind), the workflow's
// ID, its summary and input, and what its search attributes need besides.
type Start struct {
	Kind      string          `json:"kind"`
	ID        string          `json:"workflow_id"`
	Summary   string          `json:"summary"`
	Input     json.RawMessage `json:"input"`
	ProgramID uuid.UUID       `json:"program_id"`
	PartnerID uuid.UUID       `json:"partner_id"`
	Quarter   string          `json:"quarter,omitempty"`
}

func newStart(kind, id, summary string, in any) Start {
	b, err := json.Marshal(in)
	if err != nil { // inputs are plain structs: never
		panic(fmt.Sprintf("workflows: the %s input does not encode: %v", kind, err))
	}
	return Start{Kind: kind, ID: id, Summary: summary, Input: b}
}

// PartnerStart: a partner's onboarding (ID partner-<id>).
func PartnerStart(in PartnerInput, summary string) Start {
	return newStart(StartKindPartner, ids.Partner(in.PartnerID), summary, in)
}

// DealStart: a deal registration (ID deal-<id>).
func DealStart(in DealInput, summary string) Start {
	return newStart(StartKindDeal, ids.Deal(in.DealID), summary, in)
}

// MDFStart: an MDF request (ID mdf-<id>).
func MDFStart(in MDFInput, programID uuid.UUID, quarter, summary string) Start {
	s := newStart(StartKindMDF, ids.MDF(in.RequestID), summary, in)
	s.ProgramID, s.Quarter = programID, quarter
	return s
}

// MDFAllocationStart: the expiry process of a partner's quarter allocation,
// joined if it runs (ID mdf-allocation-<partner>-<quarter>).
func MDFAllocationStart(in MDFAllocationInput, programID uuid.UUID, summary string) Start {
	s := newStart(StartKindMDFAllocation, ids.MDFAllocation(in.PartnerID, in.Quarter), summary, in)
	s.ProgramID = programID
	return s
}

// ConversionReviewStart: the review of a flagged conversion (ID conversion-review-<id>).
func ConversionReviewStart(in ReviewInput, programID uuid.UUID, summary string) Start {
	s := newStart(StartKindConversionReview, ids.ConversionReview(in.ConversionID), summary, in)
	s.ProgramID = programID
	return s
}

// CloseStart: a program's monthly close, joined if it runs (ID close-<program>-<yyyy-mm>).
func CloseStart(in CloseInput, summary string) Start {
	return newStart(StartKindClose, ids.Close(in.ProgramID, in.Month), summary, in)
}

// PayoutRetryStart: a failed payout's workflow run again, as a new attempt
// under the same ID.
func PayoutRetryStart(workflowID string, in PayoutInput, partnerID, programID uuid.UUID, summary string) Start {
	s := newStart(StartKindPayoutRetry, workflowID, summary, in)
	s.PartnerID, s.ProgramID = partnerID, programID
	return s
}

// Launch makes the start. A start that finds its workflow already started
// (made before, by this request or the sweep) succeeds, except a payout retry
// while the previous attempt still runs: that one is to be made again later.
func (s Start) Launch(ctx context.Context, c client.Client) error {
	var err error
	switch s.Kind {
	case StartKindPartner:
		var in PartnerInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, once(s.ID, s.Summary,
				SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(in.ProgramID.String()),
				SAPartnerType.ValueSet(in.PartnerType), SAKind.ValueSet("partner"), SAStatus.ValueSet(domain.StatusPendingReview)),
				PartnerWorkflow, in)
		}
	case StartKindDeal:
		var in DealInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, once(s.ID, s.Summary,
				SADealID.ValueSet(in.DealID.String()), SAPartnerID.ValueSet(in.PartnerID.String()),
				SAProgramID.ValueSet(in.ProgramID.String()), SAKind.ValueSet("deal"), SAStatus.ValueSet(domain.DealPendingApproval)),
				DealWorkflow, in)
		}
	case StartKindMDF:
		var in MDFInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, once(s.ID, s.Summary,
				SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(s.ProgramID.String()),
				SAKind.ValueSet("mdf"), SAQuarter.ValueSet(s.Quarter), SAStatus.ValueSet(MDFPendingApproval)),
				MDFWorkflow, in)
		}
	case StartKindMDFAllocation:
		var in MDFAllocationInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, joined(s.ID, s.Summary,
				SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(s.ProgramID.String()),
				SAKind.ValueSet("mdf_allocation"), SAQuarter.ValueSet(in.Quarter), SAStatus.ValueSet("open")),
				MDFAllocationWorkflow, in)
		}
	case StartKindConversionReview:
		var in ReviewInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, once(s.ID, s.Summary,
				SAPartnerID.ValueSet(in.PartnerID.String()), SAProgramID.ValueSet(s.ProgramID.String()),
				SAKind.ValueSet("conversion_review"), SAStatus.ValueSet("pending")),
				ConversionReviewWorkflow, in)
		}
	case StartKindClose:
		var in CloseInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, joined(s.ID, s.Summary,
				SAProgramID.ValueSet(in.ProgramID.String()), SAKind.ValueSet("close"), SAStatus.ValueSet(domain.CloseComputing)),
				CloseWorkflow, in)
		}
	case StartKindPayoutRetry:
		var in PayoutInput
		if err = decodeStartInput(s, &in); err == nil {
			_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: s.ID, TaskQueue: TaskQueue, StaticSummary: s.Summary,
				WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowExecutionErrorWhenAlreadyStarted: true, TypedSearchAttributes: payoutSearchAttributes(s.PartnerID, s.ProgramID)}, PayoutWorkflow, in)
			return err // already started: the previous attempt still runs
		}
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown kind of start %q", s.Kind), "unknown_start", nil)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

func decodeStartInput(s Start, v any) error {
	if err := json.Unmarshal(s.Input, v); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the %s start of %s has an input that does not decode: %v", s.Kind, s.ID, err), "bad_start", nil)
	}
	return nil
}
