package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// countClicks gives one row per link and UTC day, with unique + flagged = clicks.
func TestCountClicks(t *testing.T) {
	prog, p1, p2 := uuid.New(), uuid.New(), uuid.New()
	a, b := uuid.New(), uuid.New()
	late := time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC)
	early := late.Add(2 * time.Second) // the next UTC day
	inBerlin := early.In(time.FixedZone("CET", 3600))
	click := func(link, partner uuid.UUID, at time.Time, bot, dup, malformed bool) db.InsertClicksParams {
		return db.InsertClicksParams{ID: uuid.New(), LinkID: link, PartnerID: partner, ProgramID: prog, ClickedAt: at, Bot: bot, Duplicate: dup, Malformed: malformed}
	}
	tests := []struct {
		name  string
		batch []db.InsertClicksParams
		want  []string // link day clicks unique flagged, in first-seen order
	}{
		{"empty", nil, nil},
		{"one link, one day", []db.InsertClicksParams{click(a, p1, late, false, false, false), click(a, p1, late, true, false, false), click(a, p1, late, false, true, false)},
			[]string{"a 2026-11-23 3 1 2"}},
		{"midnight UTC splits a link's day, whatever the zone", []db.InsertClicksParams{click(a, p1, late, false, false, false), click(a, p1, inBerlin, false, false, true), click(a, p1, early, false, false, false)},
			[]string{"a 2026-11-23 1 1 0", "a 2026-11-24 2 1 1"}},
		{"two links", []db.InsertClicksParams{click(a, p1, late, false, false, false), click(b, p2, late, false, false, false), click(a, p1, late, true, true, true)},
			[]string{"a 2026-11-23 2 1 1", "b 2026-11-23 1 1 0"}},
	}
	name := map[uuid.UUID]string{a: "a", b: "b"}
	partner := map[uuid.UUID]uuid.UUID{a: p1, b: p2}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := countClicks(tt.batch)
			var got []string
			for i := range p.LinkIds {
				if p.ProgramIds[i] != prog || p.PartnerIds[i] != partner[p.LinkIds[i]] {
					t.Fatalf("row %d: program or partner wrong", i)
				}
				if p.UniqueClicks[i]+p.FlaggedClicks[i] != p.Clicks[i] {
					t.Fatalf("row %d: unique + flagged != clicks", i)
				}
				got = append(got, fmt.Sprintf("%s %s %d %d %d", name[p.LinkIds[i]], p.Days[i].Format(time.DateOnly), p.Clicks[i], p.UniqueClicks[i], p.FlaggedClicks[i]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for _, d := range p.Days {
				if d.Location() != time.UTC || !d.Equal(d.Truncate(24*time.Hour)) {
					t.Fatalf("day %v is not a UTC midnight", d)
				}
			}
		})
	}
}
