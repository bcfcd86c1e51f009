package api

import "testing"

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 400},           // nothing measured yet
		{20 * mb, 400},     // a small heap: capped at 400 (target 100 MB)
		{51 * mb, 401 - 1}, // 256/51 − 1 = 4.02 → capped
		{64 * mb, 300},     // grows to 256 MB
		{128 * mb, 100},    // 256/128 − 1 = 1
		{200 * mb, 100},    // never below Go's default
		{1024 * mb, 100},   // a million cached links: twice the live set, not five times
		{gcHeapFloor, 100}, // at the floor
		{gcHeapFloor + 1, 100},
	} {
		if got := gcPercentFor(tt.live); got != tt.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", tt.live/mb, got, tt.want)
		}
	}
}
