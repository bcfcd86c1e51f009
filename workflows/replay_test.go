package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
)

// Histories recorded from a real server (workflows/testdata, see README) must
// replay against today's code: a change that would break running workflows fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(PartnerWorkflow)
			r.RegisterWorkflow(DealWorkflow)
			r.RegisterWorkflow(MDFWorkflow)
			r.RegisterWorkflow(MDFAllocationWorkflow)
			r.RegisterWorkflow(ConversionReviewWorkflow)
			r.RegisterWorkflow(CloseWorkflow)
			r.RegisterWorkflow(PayoutWorkflow)
			// Every workflow the worker registers (workflows.Register), so any recorded history replays.
			r.RegisterWorkflow(CommissionPayableWorkflow)
			r.RegisterWorkflow(CloseSchedulerWorkflow)
			r.RegisterWorkflow(MDFQuarterStartWorkflow)
			r.RegisterWorkflow(HousekeepingWorkflow)
			r.RegisterWorkflow(TierReviewWorkflow)
			r.RegisterWorkflowWithOptions(EmailDelivery, workflow.RegisterOptions{Name: activities.EmailDeliveryWorkflow})
			r.RegisterWorkflowWithOptions(WebhookDelivery, workflow.RegisterOptions{Name: activities.WebhookDeliveryWorkflow})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
