package sharing

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the dispatcher's Prometheus instruments.
type Metrics struct {
	Outcomes *prometheus.CounterVec
	Duration prometheus.Histogram
}

// NewMetrics registers the dispatcher's instruments on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "husky_delivery_attempts_total",
			Help: "Webhook delivery attempts by outcome (delivered, retry, dead, gone, released).",
		}, []string{"outcome"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "husky_delivery_attempt_duration_seconds",
			Help:    "Duration of one webhook delivery attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
	}
	reg.MustRegister(m.Outcomes, m.Duration)
	return m
}
