package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sharing"
)

// DefaultReminders is when an unanswered erasure notice is sent again:
// 7 and 30 days after the first.
var DefaultReminders = []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour}

// Reminders sends erasure notices again to the recipients that have not
// confirmed them (GDPR Art. 19; issue: notices nobody answered were never
// followed up), on a schedule counted from the first notice.
type Reminders struct {
	Orders     *orders.Service
	Outbox     *sharing.Outbox
	Deliveries *sharing.Deliveries
	// Schedule is the delay after the first notice at which each reminder
	// goes; empty sends none.
	Schedule []time.Duration
	Clock    base.Clock
	// Sent counts the reminders sent (husky_erasure_reminders_total).
	Sent prometheus.Counter
}

// NewRemindersCounter returns husky_erasure_reminders_total.
func NewRemindersCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "husky_erasure_reminders_total",
		Help: "Erasure notices sent again because the recipient had not confirmed the erasure."})
}

// Run sends every reminder due now, a thousand notices a turn, and returns
// how many it sent.
func (r *Reminders) Run(ctx context.Context) (int, error) {
	if len(r.Schedule) == 0 {
		return 0, nil
	}
	now := r.Clock.Now().UTC()
	total, afterOrder, afterPartner := 0, "", ""
	for {
		due, nextOrder, nextPartner, err := r.Deliveries.NoticesDue(ctx, r.Schedule, 14*24*time.Hour, now, afterOrder, afterPartner, 1000)
		if err != nil {
			return total, err
		}
		if len(due) > 0 {
			ids := make([]string, len(due))
			for i, n := range due {
				ids[i] = n.OrderID
			}
			acks, err := r.Orders.ErasureAcks(ctx, ids)
			if err != nil {
				return total, err
			}
			var unanswered []sharing.Notice
			for _, n := range due {
				if _, ok := acks[n.OrderID][n.PartnerID]; !ok {
					unanswered = append(unanswered, n)
				}
			}
			n, err := r.Outbox.Remind(ctx, "system:erasure-reminders", unanswered)
			if err != nil {
				return total, fmt.Errorf("erasure reminders: %w", err)
			}
			total += n
			if r.Sent != nil {
				r.Sent.Add(float64(n))
			}
		}
		if nextOrder == "" {
			return total, nil
		}
		afterOrder, afterPartner = nextOrder, nextPartner
	}
}
