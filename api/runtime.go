package api

import (
	"os"
	"runtime/debug"
)

// GCPercent is the collector's target (GOGC) the server runs with unless GOGC
// is set. The click and conversion paths make short-lived garbage over a small
// live heap: at Go's default of 100 the collector took 6 % of the API's CPU under
// click load and 11 % under conversions; at 400, 1.3 % (README, "Performance").
// The price is a heap up to five times the live set; GOMEMLIMIT caps it.
const GCPercent = 400

// TuneGC applies GCPercent unless the operator set GOGC.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
