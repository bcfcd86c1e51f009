package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
)

// TierReviewWorkflow runs quarterly from a Temporal Schedule (before the
// quarter's MDF allocations): each onboarded partner of every program with more
// than one tier is weighed against its tiers' criteria over the trailing twelve
// months, and its workflow told the verdict (a signal): a partner that qualifies
// higher is promoted at once; one that falls below is warned and keeps its tier
// for the program's grace period (a durable timer in its own workflow), demoted at
// its end only if it still falls short.
func TierReviewWorkflow(ctx workflow.Context) (int, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var programs []string
	if err := workflow.ExecuteActivity(summarized(ctx, "programs with more than one tier"), a.ProgramsForTierReview).Get(ctx, &programs); err != nil {
		return 0, err
	}
	told := 0
	for _, p := range programs {
		var reviews []activities.TierReview
		if err := workflow.ExecuteActivity(summarized(ctx, "weigh program "+p+"'s partners against its tiers"), a.ReviewProgramTiers, p).Get(ctx, &reviews); err != nil {
			return told, err
		}
		for _, r := range reviews {
			// A partner whose workflow has ended (rejected) is not told; that is not the review's failure.
			if err := workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", PartnerTierReview, r).Get(ctx, nil); err == nil {
				told++
			}
		}
	}
	return told, nil
}
