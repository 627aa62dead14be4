package retention

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPurgeAfterFollowsTheFiscalCalendar(t *testing.T) {
	t.Parallel()
	cph := mustLoc(t, "Europe/Copenhagen")
	ny := mustLoc(t, "America/New_York")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		cal       Calendar
		closed    time.Time
		wantFY    int
		wantPurge string // RFC 3339 in the calendar's zone
	}{
		{"calendar_year_mid_year", Calendar{time.January, cph, 5}, utc("2020-06-15T12:00:00Z"), 2020, "2026-01-01T00:00:00+01:00"},
		{"dec31_2330_utc_is_next_year_in_copenhagen", Calendar{time.January, cph, 5}, utc("2020-12-31T23:30:00Z"), 2021, "2027-01-01T00:00:00+01:00"},
		{"dec31_2230_utc_is_still_this_year", Calendar{time.January, cph, 5}, utc("2020-12-31T22:30:00Z"), 2020, "2026-01-01T00:00:00+01:00"},
		{"dec31_in_utc_calendar", Calendar{time.January, time.UTC, 5}, utc("2020-12-31T23:30:00Z"), 2020, "2026-01-01T00:00:00Z"},
		{"july_start_before_start", Calendar{time.July, cph, 5}, utc("2024-06-30T12:00:00Z"), 2024, "2029-07-01T00:00:00+02:00"},
		{"july_start_on_start", Calendar{time.July, cph, 5}, utc("2024-06-30T22:00:00Z"), 2025, "2030-07-01T00:00:00+02:00"},
		{"april_start_new_york", Calendar{time.April, ny, 5}, utc("2024-04-01T03:59:00Z"), 2024, "2029-04-01T00:00:00-04:00"},
		{"leap_day_closing", Calendar{time.January, cph, 5}, utc("2024-02-29T10:00:00Z"), 2024, "2030-01-01T00:00:00+01:00"},
		{"leap_day_with_march_start", Calendar{time.March, cph, 5}, utc("2024-02-29T10:00:00Z"), 2024, "2029-03-01T00:00:00+01:00"},
		{"dst_spring_forward_night", Calendar{time.January, cph, 5}, utc("2025-03-30T01:30:00Z"), 2025, "2031-01-01T00:00:00+01:00"},
		{"dst_autumn_repeated_hour", Calendar{time.October, cph, 5}, utc("2025-10-26T00:30:00Z"), 2026, "2031-10-01T00:00:00+02:00"},
		{"three_year_retention", Calendar{time.January, cph, 3}, utc("2022-05-01T00:00:00Z"), 2022, "2026-01-01T00:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fy, purge := tt.cal.PurgeAfter(tt.closed)
			if fy != tt.wantFY {
				t.Errorf("fiscal year %d, want %d", fy, tt.wantFY)
			}
			if got := purge.Format(time.RFC3339); got != tt.wantPurge {
				t.Errorf("purge after %s, want %s", got, tt.wantPurge)
			}
		})
	}
}

func TestEndOfDayIncludesTheWholeDay(t *testing.T) {
	t.Parallel()
	cal := Calendar{time.January, mustLoc(t, "Europe/Copenhagen"), 5}
	d, err := cal.ParseDate("2026-03-29") // DST starts that night
	if err != nil {
		t.Fatal(err)
	}
	end := cal.EndOfDay(d)
	if got := end.Format(time.RFC3339); got != "2026-03-30T00:00:00+02:00" {
		t.Errorf("end of day %s", got)
	}
	if _, err := cal.ParseDate("29/11/2026"); err == nil {
		t.Error("bad date accepted")
	}
}

// LastPurgeable agrees with PurgeAfter for every closing time: an order is
// past retention at a cut exactly when it closed before the boundary.
func TestLastPurgeableAgreesWithPurgeAfter(t *testing.T) {
	t.Parallel()
	cph := mustLoc(t, "Europe/Copenhagen")
	ny := mustLoc(t, "America/New_York")
	for _, cal := range []Calendar{{time.January, cph, 5}, {time.July, cph, 5}, {time.April, ny, 3}, {time.October, time.UTC, 1}} {
		for cut := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); cut.Year() < 2027; cut = cut.Add(61 * time.Hour) {
			fy, boundary := cal.LastPurgeable(cut)
			if fy != cal.FiscalYear(boundary.Add(-time.Nanosecond)) {
				t.Fatalf("%v at %v: fiscal year %d does not end at %v", cal, cut, fy, boundary)
			}
			for _, closed := range []time.Time{boundary.Add(-time.Second), boundary, boundary.Add(-400 * 24 * time.Hour), boundary.Add(400 * 24 * time.Hour)} {
				_, after := cal.PurgeAfter(closed)
				if past, before := after.Before(cut), closed.Before(boundary); past != before {
					t.Fatalf("%v at %v: closed %v purge %v past=%v, but before boundary %v=%v", cal, cut, closed, after, past, boundary, before)
				}
			}
		}
	}
}
