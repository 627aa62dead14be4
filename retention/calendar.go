// Package retention makes the privacy policy's retention promise
// executable: the fiscal calendar, purge eligibility, finance reports, purge
// runs that erase personal data everywhere and notify recipients (GDPR
// Art. 17, 19), and the evidence of each run.
package retention

import (
	"fmt"
	"time"
)

// Calendar is the fiscal calendar and the retention period. Personal data
// of an order is kept until the end of the fiscal year in which the order
// reached its final state, plus Years years (Danish Bookkeeping Act: five
// years from the end of the financial year the material relates to).
type Calendar struct {
	StartMonth time.Month     // first month of the fiscal year
	Location   *time.Location // the fiscal calendar's time zone
	Years      int            // retention after the fiscal year ends
}

// String identifies the calendar, so a change of configuration is noticed.
func (c Calendar) String() string {
	return fmt.Sprintf("start=%d tz=%s years=%d", c.StartMonth, c.Location, c.Years)
}

// FiscalYear returns the fiscal year t falls in, in the calendar's time
// zone. A fiscal year is named by the calendar year in which it ends: with
// a July start, 1 July 2025 to 30 June 2026 is fiscal year 2026; with a
// January start it is simply the calendar year.
func (c Calendar) FiscalYear(t time.Time) int {
	lt := t.In(c.Location)
	y := lt.Year()
	if c.StartMonth != time.January && lt.Month() >= c.StartMonth {
		y++
	}
	return y
}

// YearEnd returns the first instant after fiscal year fy.
func (c Calendar) YearEnd(fy int) time.Time {
	y := fy
	if c.StartMonth == time.January {
		y++
	}
	return time.Date(y, c.StartMonth, 1, 0, 0, 0, 0, c.Location)
}

// PurgeAfter returns the fiscal year of closedAt and the first instant at
// which the order's personal data may be erased: the end of that fiscal
// year plus the retention years.
func (c Calendar) PurgeAfter(closedAt time.Time) (int, time.Time) {
	fy := c.FiscalYear(closedAt)
	end := c.YearEnd(fy)
	return fy, time.Date(end.Year()+c.Years, end.Month(), 1, 0, 0, 0, 0, c.Location)
}

// EndOfDay returns the first instant after the calendar day d (a date in
// the calendar's time zone): "as of" a date includes the whole day.
func (c Calendar) EndOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, c.Location)
}

// ParseDate parses YYYY-MM-DD as a date in the calendar's time zone.
func (c Calendar) ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, c.Location)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date such as 2026-11-29", s)
	}
	return t, nil
}
