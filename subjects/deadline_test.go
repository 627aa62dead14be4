package subjects

import (
	"testing"
	"time"
)

func TestDeadlineCountsMonthsAsRegulation1182_71(t *testing.T) {
	t.Parallel()
	cph, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, received string
		months         int
		wantDate       string
		wantAt         string
	}{
		{"same_date_next_month", "2026-01-15T09:00:00Z", 1, "2026-02-15", "2026-02-15T23:00:00Z"},
		{"31_january_ends_28_february", "2026-01-31T09:00:00Z", 1, "2026-02-28", "2026-02-28T23:00:00Z"},
		{"31_january_ends_29_february_in_a_leap_year", "2028-01-31T09:00:00Z", 1, "2028-02-29", "2028-02-29T23:00:00Z"},
		{"31_march_ends_30_april", "2026-03-31T09:00:00Z", 1, "2026-04-30", "2026-04-30T22:00:00Z"},
		{"late_evening_utc_is_the_next_day_in_copenhagen", "2026-01-31T23:30:00Z", 1, "2026-03-01", "2026-03-01T23:00:00Z"},
		{"december_to_january", "2026-12-31T12:00:00Z", 1, "2027-01-31", "2027-01-31T23:00:00Z"},
		{"extended_31_january_ends_30_april", "2026-01-31T09:00:00Z", 3, "2026-04-30", "2026-04-30T22:00:00Z"},
		{"extended_30_november_ends_28_february", "2026-11-30T09:00:00Z", 3, "2027-02-28", "2027-02-28T23:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			received, _ := time.Parse(time.RFC3339, tc.received)
			due := Deadline(received, tc.months, cph)
			if got := DueDate(due, cph); got != tc.wantDate {
				t.Errorf("due date %s, want %s", got, tc.wantDate)
			}
			if got := due.Format(time.RFC3339); got != tc.wantAt {
				t.Errorf("due at %s, want %s", got, tc.wantAt)
			}
		})
	}
}

func TestOverdueFromTheEndOfTheDueDate(t *testing.T) {
	t.Parallel()
	due, _ := time.Parse(time.RFC3339, "2026-02-28T23:00:00Z")
	for _, tc := range []struct {
		name string
		st   Status
		now  string
		want bool
	}{
		{"not_late_in_the_last_minute", StatusOpen, "2026-02-28T22:59:59Z", false},
		{"late_at_midnight", StatusOpen, "2026-02-28T23:00:00Z", true},
		{"a_completed_request_is_never_late", StatusCompleted, "2026-06-01T00:00:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now, _ := time.Parse(time.RFC3339, tc.now)
			if got := Overdue(tc.st, due, now); got != tc.want {
				t.Errorf("Overdue = %v, want %v", got, tc.want)
			}
		})
	}
}
