package sharing

import (
	"context"
	"fmt"
	"time"

	"github.com/milestone/husky/store"
)

// Erasure reminders (GDPR Art. 19): a recipient sent order.erased is
// expected to confirm with order.erasure_confirmed. Retention asks which
// notices went unanswered for long enough (NoticesDue), leaves out those
// the recipient confirmed (orders knows), and sends the rest again
// (Remind): a new delivery, so a new webhook-id, of the same ids-only
// event with the reminder's number.

// ErasureReminder is the data of an order.erased sent again.
type ErasureReminder struct {
	OrderID string `json:"order_id"`
	// Reminder numbers the reminders of one notice from 1.
	Reminder int `json:"reminder"`
}

// NoticesDue returns the erasure notices a reminder is due for at now,
// under schedule (the delays after the first notice at which reminders 1,
// 2, … go), whether or not the recipient answered: up to limit of them,
// after the notice of order afterOrder to afterPartner (empty: from the
// start). Notices first sent longer ago than the schedule's last delay and
// a grace of slack are not looked at again. It also returns the cursor to
// pass next, empty when it read everything.
func (s *Deliveries) NoticesDue(ctx context.Context, schedule []time.Duration, slack time.Duration, now time.Time,
	afterOrder, afterPartner string, limit int) (due []Notice, nextOrder, nextPartner string, err error) {
	if len(schedule) == 0 {
		return nil, "", "", nil
	}
	cutoff := now.Add(-schedule[len(schedule)-1] - slack)
	rows, err := s.rows().noticesDue(ctx, noticesDueParams{AfterOrder: afterOrder, AfterPartner: afterPartner, Since: cutoff,
		Times: len(schedule), Limit: limit})
	if err != nil {
		return nil, "", "", fmt.Errorf("erasure notices due: %w", err)
	}
	for _, r := range rows {
		sent := r.Sent - 1
		if sent < len(schedule) && !now.Before(r.First.Add(schedule[sent])) {
			due = append(due, Notice{OrderID: r.OrderID, PartnerID: r.PartnerID, SentAt: r.First.Time, Reminders: sent})
		}
	}
	if len(rows) == limit {
		last := rows[len(rows)-1]
		nextOrder, nextPartner = last.OrderID, last.PartnerID
	}
	return due, nextOrder, nextPartner, nil
}

// Remind sends each notice again, numbered, in one transaction, and
// returns how many it queued.
func (o *Outbox) Remind(ctx context.Context, actor string, notices []Notice) (int, error) {
	if len(notices) == 0 {
		return 0, nil
	}
	qs := make([]queued, 0, len(notices))
	for _, n := range notices {
		q, err := o.prepare(n.PartnerID, n.OrderID, EventOrderErased, ErasureReminder{OrderID: n.OrderID, Reminder: n.Reminders + 1}, nil)
		if err != nil {
			return 0, err
		}
		q.orderErased = true
		qs = append(qs, q)
	}
	err := o.Partners.DB.Tx(ctx, func(tx *store.Tx) error { return o.insert(ctx, tx, actor, qs...) })
	if err != nil {
		return 0, fmt.Errorf("remind recipients: %w", err)
	}
	o.Kick()
	return len(qs), nil
}
