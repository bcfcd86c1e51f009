package ids

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// The IDs are wire names: running workflows and operators' commands use them.
func TestIDsDoNotChange(t *testing.T) {
	id := uuid.MustParse("01a207cf-f105-7b85-a471-89e5309e2a3f")
	other := uuid.MustParse("01a207cf-f0dd-7d70-b421-226073ddacc5")
	for got, want := range map[string]string{
		Partner(id):                  "partner-01a207cf-f105-7b85-a471-89e5309e2a3f",
		Deal(id):                     "deal-01a207cf-f105-7b85-a471-89e5309e2a3f",
		MDF(id):                      "mdf-01a207cf-f105-7b85-a471-89e5309e2a3f",
		MDFAllocation(id, "2026-Q4"): "mdf-allocation-01a207cf-f105-7b85-a471-89e5309e2a3f-2026-Q4",
		ConversionReview(id):         "review-01a207cf-f105-7b85-a471-89e5309e2a3f",
		Close(id, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)): "close-01a207cf-f105-7b85-a471-89e5309e2a3f-2026-10",
		Payout(id, other): "payout-01a207cf-f105-7b85-a471-89e5309e2a3f-01a207cf-f0dd-7d70-b421-226073ddacc5",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}
