package app

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/milestone/husky/store"
)

// httpMetrics counts requests by route template (bounded), method and
// status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "husky_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "husky_http_request_duration_seconds", Help: "HTTP request duration by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := routeOf(c)
	m.requests.WithLabelValues(route, methodOf(c), strconv.Itoa(c.Writer.Status())).Inc()
	m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

// dbMetrics are the counts of what the process asked of PostgreSQL:
// statements (one round trip each), transactions and connections opened;
// and how long its transactions held a lock every instance shares. SQLite,
// in the process, has none of them.
func dbMetrics(t *store.RoundTrips) []prometheus.Collector {
	if t == nil {
		return nil
	}
	held := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "husky_db_shared_lock_held_seconds",
		Help:    "How long a transaction held a lock every instance shares, from taking it to its end, by lock.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}, []string{"lock"})
	t.Held = func(lock string, d time.Duration) { held.WithLabelValues(lock).Observe(d.Seconds()) }
	counter := func(name, help string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(n.Load()) })
	}
	return []prometheus.Collector{
		counter("husky_db_statements_total", "Statements sent to PostgreSQL, each one round trip.", &t.Statements),
		counter("husky_db_transactions_total", "Transactions begun on PostgreSQL.", &t.Begins),
		counter("husky_db_commits_total", "Transactions committed on PostgreSQL.", &t.Commits),
		counter("husky_db_connections_opened_total", "Connections opened to PostgreSQL.", &t.Connects),
		held,
	}
}
