package subjects

import "time"

// Deadlines (GDPR Art. 12(3)): a request is answered within one month of
// its receipt, extendable once by two further months. A period in months
// is counted as Regulation (EEC, Euratom) No 1182/71 Art. 3(2)(c) counts it:
// it ends with the last hour of the day, in the last month, with the same
// date as the day the request was received, or of that month's last day
// where that date does not exist (received 31 January: due at the end of
// 28 February, 29 in a leap year). Days are the controller's: the fiscal
// calendar's time zone.
//
// Art. 3(4) of that regulation would move a deadline falling on a Saturday,
// Sunday or public holiday to the next working day. The service does not:
// which days are holidays depends on the member state, and answering by
// the date shown is always within the period.

// Deadline returns the instant a period of months from the day of
// received ends in loc: the midnight that ends its last day.
func Deadline(received time.Time, months int, loc *time.Location) time.Time {
	y, m, d := received.In(loc).Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, loc)
	last := first.AddDate(0, 1, -1).Day()
	// time.Date normalises the day after the last of the month into the
	// next month.
	return time.Date(first.Year(), first.Month(), min(d, last)+1, 0, 0, 0, 0, loc).UTC()
}

// DueDate returns the date, in loc, whose end is the deadline due.
func DueDate(due time.Time, loc *time.Location) string {
	return due.Add(-time.Nanosecond).In(loc).Format(time.DateOnly)
}

// Overdue reports whether an open request due at due is late at now: the
// one test every answer, list, metric and console page uses.
func Overdue(st Status, due, now time.Time) bool {
	return st == StatusOpen && !now.Before(due)
}

// The periods of Art. 12(3), in months.
const (
	answerMonths   = 1
	extendedMonths = 3
)
