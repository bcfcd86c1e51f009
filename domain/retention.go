package domain

import "time"

// ClickRetentionCutoff is the first day of the oldest month of clicks to keep:
// the month `months` months before now's, or earlier when a program's
// attribution window (the longest, in days) reaches further back — a click
// inside some program's window is never dropped. ok is false when months is 0
// (clicks are kept forever).
func ClickRetentionCutoff(now time.Time, months, longestWindowDays int) (cutoff time.Time, ok bool) {
	if months <= 0 {
		return time.Time{}, false
	}
	now = now.UTC()
	monthStart := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	cutoff = monthStart(now).AddDate(0, -months, 0)
	if window := monthStart(now.AddDate(0, 0, -longestWindowDays)); window.Before(cutoff) {
		cutoff = window
	}
	return cutoff, true
}
