package domain

// The statuses of the monthly close, a payout and a fraud review: one set per
// process, written where the workflow moves and where the database stores them.
// (Partner, deal and MDF statuses live beside their rules: Status*, Deal*, and
// the MDF workflow's MDF*.)
const (
	CloseComputing = "computing" // freezing the period and computing the statements
	CloseReview    = "review"    // waiting for finance's adjustments and sign-off
	ClosePaying    = "paying"    // signed off; payouts running
	CloseCompleted = "completed" // every payout settled (paid or failed)

	PayoutPending   = "pending"   // created; the ledger entry and the provider call follow
	PayoutHeld      = "held"      // the partner's payout details changed: waits for finance to confirm them
	PayoutSubmitted = "submitted" // with the provider (or in the bank file), not confirmed yet
	PayoutPaid      = "paid"
	PayoutFailed    = "failed" // retryable by finance

	ReviewPending  = "pending" // a flagged conversion waiting for a manager
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)
