// Package base gives every part of the service the same few things, so
// that each has one of them and tests can replace it: the clock, the ids
// of new records, and the shape of a background loop, supervised in one
// place (Group), with leadership among several processes (Lead).
package base

import (
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Clock tells the time: the system's (nil) or a test's. Its times are UTC
// to the microsecond, the precision the database keeps, so a time read
// back equals the time written.
type Clock func() time.Time

// Now returns the time.
func (c Clock) Now() time.Time {
	var t time.Time
	if c == nil {
		t = time.Now()
	} else {
		t = c()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// FakeClock is a clock a test moves: it runs with real time (timers and
// timeouts still work), offset by how far the test moved it. Its zero
// value is the system's time.
type FakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the clock's time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Add(f.offset)
}

// Set moves the clock to t, from where it runs on.
func (f *FakeClock) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offset = time.Until(t)
}

// Advance moves the clock on by d.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offset += d
}

// NewID returns a new record id: prefix, then a UUIDv7 in hex. Version 7
// starts with the time, so ids sort by creation, which keyset paging and
// the outbox's per-order message order rely on.
func NewID(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// NewIDAt is NewID for a record made at t (an imported one), so that it
// sorts where its time puts it.
func NewIDAt(prefix string, t time.Time) string {
	id := uuid.Must(uuid.NewV7())
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return prefix + strings.ReplaceAll(id.String(), "-", "")
}
