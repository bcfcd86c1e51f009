package activities

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/domain"
)

// A batch's answer is built from what it sent: amounts and times must read as
// PostgreSQL stores them (numeric(14, 2), timestamptz). The integration test
// TestRecordBatchDecidesAsRecordAlone compares whole answers with stored rows.
func TestColumnValues(t *testing.T) {
	for in, want := range map[string]string{"10": "10.00", "10.5": "10.50", "49.90": "49.90", "2.024": "2.02", "2.025": "2.03",
		"-2.025": "-2.03", "0": "0.00", "999999999999.99": "999999999999.99", "0.005": "0.01"} {
		if got := columnAmount(domain.NewNumeric(decimal.RequireFromString(in))).String(); got != want {
			t.Errorf("columnAmount(%s) = %s, want %s", in, got, want)
		}
	}
	at := time.Date(2026, 12, 7, 4, 30, 1, 123456789, time.UTC)
	if got := columnTime(at); !got.Equal(time.Date(2026, 12, 7, 4, 30, 1, 123456000, time.UTC)) || got.Location() != time.Local {
		t.Errorf("columnTime = %v", got)
	}
}
