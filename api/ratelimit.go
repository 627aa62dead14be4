package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/milestone/husky/base"
	"golang.org/x/time/rate"
)

// RateLimiter gives every API key a token bucket (golang.org/x/time/rate)
// so that one client cannot starve the others: PerSecond requests a
// second, in bursts of twice that. Buckets exist only for authenticated
// keys, so their number is bounded by the keys issued.
type RateLimiter struct {
	PerSecond float64
	Clock     base.Clock

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRateLimiter returns a limiter of perSecond requests per key, or nil
// (no limit) when perSecond is 0.
func NewRateLimiter(perSecond float64) *RateLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &RateLimiter{PerSecond: perSecond, Clock: time.Now, buckets: map[string]*rate.Limiter{}}
}

func (l *RateLimiter) burst() int { return max(1, int(math.Ceil(2*l.PerSecond))) }

func (l *RateLimiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.PerSecond), l.burst())
		l.buckets[key] = b
	}
	return b
}

// Middleware limits each request by the key key returns (the API key's
// id; "" is not limited). Every answer carries RateLimit-Limit (the
// burst), RateLimit-Remaining and RateLimit-Reset (seconds until the
// bucket is full again); past the limit the answer is 429 problem+json with
// Retry-After (seconds until the next request is allowed).
func (l *RateLimiter) Middleware(key func(c *gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		k := key(c)
		if l == nil || k == "" {
			c.Next()
			return
		}
		b, now := l.bucket(k), l.Clock.Now()
		allowed := b.AllowN(now, 1)
		tokens := b.TokensAt(now)
		burst := l.burst()
		h := c.Writer.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(burst))
		h.Set("RateLimit-Remaining", strconv.Itoa(max(0, int(math.Floor(tokens)))))
		h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil((float64(burst)-tokens)/l.PerSecond))))
		h.Set("RateLimit-Policy", strconv.FormatFloat(l.PerSecond, 'f', -1, 64)+";w=1;burst="+strconv.Itoa(burst))
		if !allowed {
			wait := max(1, int(math.Ceil((1-tokens)/l.PerSecond)))
			h.Set("Retry-After", strconv.Itoa(wait))
			Abort(c, New(http.StatusTooManyRequests, "rate_limited",
				"this API key sent more than %s requests per second; retry after %d s", strconv.FormatFloat(l.PerSecond, 'f', -1, 64), wait))
			return
		}
		c.Next()
	}
}
