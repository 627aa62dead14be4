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

// YearStart returns the first instant of fiscal year fy.
func (c Calendar) YearStart(fy int) time.Time { return c.YearEnd(fy - 1) }

// LastPurgeable returns the last fiscal year whose orders are past
// retention at cut (their purge date is before it), and the first instant
// after that year: an order is past retention at cut exactly when it closed
// before that instant. That is how retention finds them, from closed_at and
// the calendar in force when it runs, with nothing stored to keep in step.
func (c Calendar) LastPurgeable(cut time.Time) (int, time.Time) {
	fy := c.FiscalYear(cut) - c.Years
	for {
		_, after := c.PurgeAfter(c.YearStart(fy + 1))
		if !after.Before(cut) {
			break
		}
		fy++
	}
	for {
		_, after := c.PurgeAfter(c.YearStart(fy))
		if after.Before(cut) {
			break
		}
		fy--
	}
	return fy, c.YearEnd(fy)
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
