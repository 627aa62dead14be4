package base

import (
	"strings"
	"testing"
	"time"
)

func TestClockIsUTCToTheMicrosecond(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 5, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	got := Clock(func() time.Time { return at }).Now()
	if want := time.Date(2026, 12, 5, 11, 0, 0, 123456000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	var system Clock
	if d := time.Since(system.Now()); d < 0 || d > time.Minute {
		t.Errorf("the nil clock is %v off the system's", d)
	}
}

func TestFakeClockMovesAndRuns(t *testing.T) {
	t.Parallel()
	var f FakeClock
	f.Set(time.Now().AddDate(5, 0, 0))
	f.Advance(time.Hour)
	want := time.Now().AddDate(5, 0, 0).Add(time.Hour)
	if d := f.Now().Sub(want); d < -time.Second || d > time.Second {
		t.Errorf("set and advanced clock is %v off", d)
	}
}

func TestIDsSortByTime(t *testing.T) {
	t.Parallel()
	a, b := NewID("ord_"), NewID("ord_")
	if !strings.HasPrefix(a, "ord_") || len(a) != 4+32 || a == b {
		t.Fatalf("ids %q %q", a, b)
	}
	old := NewIDAt("ord_", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	newer := NewIDAt("ord_", time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	if !(old < newer && newer < a) {
		t.Errorf("ids do not sort by their time: %s %s %s", old, newer, a)
	}
}
