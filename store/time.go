package store

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t in the stored form: UTC, microseconds, fixed width.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// ParseTime parses the stored form written by FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}

// Time is a time.Time stored as fixed-width UTC text. The zero value is
// stored as NULL and NULL scans to the zero value.
type Time struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time = time.Time{}
		return nil
	case string:
		p, err := ParseTime(x)
		t.Time = p
		return err
	case []byte:
		p, err := ParseTime(string(x))
		t.Time = p
		return err
	case time.Time:
		t.Time = x.UTC()
		return nil
	}
	return fmt.Errorf("scan time from %T", v)
}

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return FormatTime(t.Time), nil
}
