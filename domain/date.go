package domain

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Date is a calendar day (a PostgreSQL date): answered as "2026-11-23", never as
// a timestamp. It scans from and encodes to date columns.
type Date struct{ time.Time }

const dateLayout = "2006-01-02"

// NewDate is the day t falls on, in UTC.
func NewDate(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d Date) String() string { return d.Format(dateLayout) }

func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format(dateLayout)) }

func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil { // workflow histories recorded before dates were dates hold timestamps
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("a date reads like 2026-11-23: %w", err)
		}
	}
	d.Time = t
	return nil
}

func (d *Date) ScanDate(v pgtype.Date) error {
	if !v.Valid {
		return fmt.Errorf("NULL into a Date")
	}
	d.Time = v.Time
	return nil
}

func (d Date) DateValue() (pgtype.Date, error) {
	return pgtype.Date{Time: NewDate(d.Time).Time, Valid: true}, nil
}
