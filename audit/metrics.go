package audit

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics sets l.Lag and returns the trail's collectors for a registry:
// how long entries waited to be integrated, how many wait now, and how
// long the oldest has.
func (l *Log) Metrics() []prometheus.Collector {
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "husky_audit_integration_lag_seconds",
		Help:    "Time from an audit entry's commit to its place in the tree.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}})
	l.Lag = lag
	pending := func() (int64, time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, oldest, err := l.Pending(ctx)
		if err != nil {
			return 0, time.Time{}
		}
		return n, oldest
	}
	return []prometheus.Collector{lag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "husky_audit_pending", Help: "Audit entries recorded and not yet integrated."},
			func() float64 { n, _ := pending(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "husky_audit_oldest_pending_age_seconds",
			Help: "How long the oldest audit entry not yet integrated has waited (0 if none)."},
			func() float64 {
				_, oldest := pending()
				if oldest.IsZero() {
					return 0
				}
				return max(0, l.Clock.Now().Sub(oldest).Seconds())
			}),
	}
}
