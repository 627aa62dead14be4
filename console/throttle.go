package console

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sign-in throttling: an API key is a bearer secret, and the sign-in form
// would let anyone guess keys at full speed. Failed sign-ins are counted
// per client address and per key prefix (husky_<role>_ and four more
// characters, so that guesses spread over many addresses at one key still
// meet); after freeFailures in a row, each further attempt from there waits
// twice as long as the last, up to maxDelay, and is answered 429 with
// Retry-After meanwhile. A sign-in that succeeds clears its address and
// prefix. The counts live in the process: with several instances an
// attacker gets each instance's allowance, which the delays still bound.

const (
	freeFailures = 5
	firstDelay   = time.Second
	maxDelay     = 15 * time.Minute
	// forgetAfter drops a quiet entry, so the table stays small.
	forgetAfter = time.Hour
	maxEntries  = 100_000
)

type failures struct {
	count int
	last  time.Time
	until time.Time
}

// throttle counts failed sign-ins by address and key prefix.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*failures
}

// signInKeys names what a sign-in attempt is counted under.
func signInKeys(addr, key string) []string {
	prefix := key
	if i := strings.Index(strings.TrimPrefix(key, "husky_"), "_"); strings.HasPrefix(key, "husky_") && i >= 0 {
		prefix = key[:min(len(key), len("husky_")+i+1+4)]
	} else if len(prefix) > 10 {
		prefix = prefix[:10]
	}
	return []string{"addr " + addr, "key " + prefix}
}

// wait returns how long an attempt under keys must still wait at now.
func (t *throttle) wait(now time.Time, keys []string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		if f := t.entries[k]; f != nil && f.until.After(now) {
			d = max(d, f.until.Sub(now))
		}
	}
	return d
}

// fail counts a failed attempt under keys at now.
func (t *throttle) fail(now time.Time, keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[string]*failures{}
	}
	if len(t.entries) >= maxEntries {
		for k, f := range t.entries {
			if now.Sub(f.last) > forgetAfter {
				delete(t.entries, k)
			}
		}
	}
	for _, k := range keys {
		f := t.entries[k]
		if f == nil || now.Sub(f.last) > forgetAfter {
			f = &failures{}
			t.entries[k] = f
		}
		f.count++
		f.last = now
		if over := f.count - freeFailures; over > 0 {
			d := time.Duration(float64(firstDelay) * math.Pow(2, float64(min(over-1, 20))))
			f.until = now.Add(min(d, maxDelay))
		}
	}
}

// succeed clears the counts under keys.
func (t *throttle) succeed(keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.entries, k)
	}
}

// Metrics are the console's counters.
type Metrics struct {
	SignInFailures  prometheus.Counter
	SignInThrottled prometheus.Counter
}

// NewMetrics registers husky_console_signin_failures_total and
// husky_console_signin_throttled_total with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SignInFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "husky_console_signin_failures_total",
			Help: "Console sign-ins refused for a key that is not valid."}),
		SignInThrottled: prometheus.NewCounter(prometheus.CounterOpts{Name: "husky_console_signin_throttled_total",
			Help: "Console sign-ins answered 429 because too many failed from the same address or key prefix."}),
	}
	reg.MustRegister(m.SignInFailures, m.SignInThrottled)
	return m
}
