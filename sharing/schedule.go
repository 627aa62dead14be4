package sharing

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schedule is the list of delays between delivery attempts after the
// immediate first one. Once it is exhausted the delivery is dead.
type Schedule []time.Duration

// ParseSchedule parses a comma-separated list of positive Go durations,
// such as "5s,5m,30m".
func ParseSchedule(s string) (Schedule, error) {
	var out Schedule
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a comma-separated list of positive durations such as 5s,5m,2h", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// Jitter spreads a delay by up to ±fraction so that retries from one outage
// do not arrive together. rnd returns a number in [0, 1).
func Jitter(d time.Duration, fraction float64, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	f := 1 + fraction*(2*rnd()-1)
	return time.Duration(float64(d) * f)
}

// Next returns the delay before the attempt after attempt number n (1-based)
// failed, and false when n was the last attempt the schedule allows.
func (s Schedule) Next(n int, rnd func() float64) (time.Duration, bool) {
	if n < 1 || n > len(s) {
		return 0, false
	}
	return Jitter(s[n-1], 0.2, rnd), true
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date) and
// caps it. It returns false when the header is absent or malformed.
func RetryAfter(h string, now time.Time, limit time.Duration) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), limit), true
}
