package api

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/google/uuid"
)

// The collector's target (GOGC) the server runs with unless GOGC is set. The
// click and conversion paths make short-lived garbage over a small live heap: at
// Go's default of 100 the collector took 6 % of the API's CPU under click load
// and 11 % under conversions; at 400, about 1 % (README, "Performance"). A large
// live heap (a million cached links) gets the default back, so that the heap
// stays near twice the live set rather than five times it.
const (
	maxGCPercent = 400
	minGCPercent = 100
	gcHeapFloor  = 256 << 20 // the heap may grow to this before GOGC falls back toward 100
)

// gcPercentFor is the GOGC that lets a heap with live bytes grow to about
// gcHeapFloor, between minGCPercent and maxGCPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int((gcHeapFloor - min(live, gcHeapFloor)) * 100 / live)
	return max(minGCPercent, min(maxGCPercent, p))
}

// TuneRuntime is what both binaries do first, before anything runs
// concurrently: UUIDs (a UUIDv7 per click) come from a buffered pool of random
// bytes, one getrandom per 16 ids (uuid.EnableRandPool must be called before
// any id is made), and the collector's target follows the live heap (TuneGC).
func TuneRuntime() {
	uuid.EnableRandPool()
	TuneGC()
}

// TuneGC, unless the operator set GOGC, sets the collector's target from the
// live heap now and every second after (for the life of the process).
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		debug.SetGCPercent(gcPercentFor(live))
	}
	set()
	go func() {
		for range time.Tick(time.Second) {
			set()
		}
	}()
}
