package breaches

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// awaitingDesc is husky_breaches_awaiting_notification{overdue}.
var awaitingDesc = prometheus.NewDesc("husky_breaches_awaiting_notification",
	"Personal data breaches not yet notified to the supervisory authority, by whether their 72 hours from awareness (Art. 33(1)) have passed.",
	[]string{"overdue"}, nil)

// Collector exposes the breaches awaiting notification on every scrape.
type Collector struct{ Service *Service }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) { ch <- awaitingDesc }

// Collect implements prometheus.Collector; a failed count reports nothing.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	open, overdue, err := c.Service.AwaitingNotification(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(awaitingDesc, prometheus.GaugeValue, float64(open-overdue), "false")
	ch <- prometheus.MustNewConstMetric(awaitingDesc, prometheus.GaugeValue, float64(overdue), "true")
}
