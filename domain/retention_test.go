package domain

import (
	"testing"
	"time"
)

func TestClickRetentionCutoff(t *testing.T) {
	now := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name           string
		months, window int
		want           time.Time
		ok             bool
	}{
		{"0 keeps everything", 0, 30, time.Time{}, false},
		{"3 months, 30-day windows: September on", 3, 30, day(2026, 9, 1), true},
		{"1 month, but a 60-day window reaches into October", 1, 60, day(2026, 10, 1), true},
		{"1 month, 7-day windows", 1, 7, day(2026, 11, 1), true},
		{"a 365-day window keeps a year", 3, 365, day(2025, 12, 1), true},
		{"across a year", 13, 30, day(2025, 11, 1), true},
	} {
		got, ok := ClickRetentionCutoff(now, tc.months, tc.window)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	// Never a click inside any window, whatever the inputs.
	for months := 1; months <= 24; months++ {
		for window := 1; window <= 365; window += 7 {
			got, _ := ClickRetentionCutoff(now, months, window)
			if got.After(now.AddDate(0, 0, -window)) || got.After(now.AddDate(0, -months, 0)) {
				t.Fatalf("months %d window %d: cutoff %v drops clicks still kept", months, window, got)
			}
		}
	}
}
