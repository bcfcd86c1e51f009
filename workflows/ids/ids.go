// Package ids is the one home of every workflow ID: each process's ID is derived
// from its business key, so a second start of the same process is the same
// workflow (not a second one), and an operator can find it in the Temporal UI or
// CLI by the record's id. The API, the workflows and the activities all build IDs
// here; the prefixes are wire names that running workflows and operators' CLI
// commands depend on, so they never change.
package ids

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Partner is a partner's onboarding and lifecycle: partner-<partner id>.
func Partner(partnerID uuid.UUID) string { return "partner-" + partnerID.String() }

// Deal is a deal registration: deal-<deal id>.
func Deal(dealID uuid.UUID) string { return "deal-" + dealID.String() }

// MDF is an MDF request: mdf-<request id>.
func MDF(requestID uuid.UUID) string { return "mdf-" + requestID.String() }

// MDFAllocation is a partner's quarter of MDF, expiring at quarter end:
// mdf-allocation-<partner id>-<YYYY-Qn>.
func MDFAllocation(partnerID uuid.UUID, quarter string) string {
	return "mdf-allocation-" + partnerID.String() + "-" + quarter
}

// ConversionReview is the fraud review of a flagged conversion: review-<conversion id>.
func ConversionReview(conversionID uuid.UUID) string { return "review-" + conversionID.String() }

// Close is a program's monthly close: close-<program id>-<YYYY-MM>.
func Close(programID uuid.UUID, month time.Time) string {
	return "close-" + programID.String() + "-" + month.Format("2006-01")
}

// PayoutPrefix starts every payout's ID; the close creates payouts set-based in
// SQL, which appends "<partner id>-<close id>" to it (as Payout does).
const PayoutPrefix = "payout-"

// Payout is one partner's payout of a close: payout-<partner id>-<close id>.
func Payout(partnerID, closeID uuid.UUID) string {
	return PayoutPrefix + partnerID.String() + "-" + closeID.String()
}

// WebhookDelivery is the workflow of one run of one webhook delivery (run 1, then
// one more per replay).
func WebhookDelivery(deliveryID uuid.UUID, run int32) string {
	return "webhook-" + deliveryID.String() + "-" + strconv.Itoa(int(run))
}
