package subjects

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// openDesc is husky_subject_requests_open{overdue}.
var openDesc = prometheus.NewDesc("husky_subject_requests_open",
	"Data-subject requests not yet completed, by whether their one-month deadline (Art. 12(3)) has passed.",
	[]string{"overdue"}, nil)

// Collector exposes the open requests on every scrape.
type Collector struct{ Service *Service }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) { ch <- openDesc }

// Collect implements prometheus.Collector; a failed count reports nothing.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	open, overdue, err := c.Service.OpenCounts(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(open-overdue), "false")
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(overdue), "true")
}
