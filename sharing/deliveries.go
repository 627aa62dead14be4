package sharing

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

func timePtr(t store.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

func (r deliveryRow) delivery() Delivery {
	d := Delivery{ID: r.ID, PartnerID: r.PartnerID, EventType: r.EventType, PayloadSHA256: r.PayloadSHA256,
		Fields: r.Fields, Status: Status(r.Status), Attempts: r.Attempts, CreatedAt: r.CreatedAt.Time,
		DeliveredAt: timePtr(r.DeliveredAt), DeadAt: timePtr(r.DeadAt), LastStatus: r.LastStatus, LastError: r.LastError}
	if r.OrderID != nil {
		d.OrderID = *r.OrderID
	}
	if d.Status == StatusPending {
		d.NextAttemptAt = timePtr(r.NextAttemptAt)
	}
	return d
}

func (s *Deliveries) rows() deliveryRows { return deliveryRows{s.DB} }

// Deliveries reads and changes the outbox for operators.
type Deliveries struct {
	DB    *store.DB
	Audit audit.Recorder
	Clock base.Clock
	// Kick wakes the dispatcher after a replay.
	Kick func()
}

// ListFilter selects deliveries, newest first.
type ListFilter struct {
	Status    Status
	OrderID   string
	PartnerID string
	After     string
	Limit     int
}

// List returns a page of deliveries and whether more follow.
func (s *Deliveries) List(ctx context.Context, f ListFilter) ([]Delivery, bool, error) {
	rows, err := s.rows().list(ctx, f)
	if err != nil {
		return nil, false, fmt.Errorf("list deliveries: %w", err)
	}
	more := len(rows) > f.Limit
	if more {
		rows = rows[:f.Limit]
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, more, nil
}

// Get returns one delivery or ErrDeliveryNotFound.
func (s *Deliveries) Get(ctx context.Context, id string) (Delivery, error) {
	r, ok, err := s.rows().get(ctx, id)
	if err != nil {
		return Delivery{}, fmt.Errorf("get delivery: %w", err)
	}
	if !ok {
		return Delivery{}, ErrDeliveryNotFound
	}
	return r.delivery(), nil
}

// Attempt is one recorded delivery attempt.
type Attempt struct {
	Attempt    int       `json:"attempt" db:"attempt"`
	StartedAt  time.Time `json:"started_at" db:"-"`
	DurationMS float64   `json:"duration_ms" db:"duration_ms"`
	HTTPStatus *int      `json:"http_status,omitempty" db:"http_status"`
	Error      string    `json:"error,omitempty" db:"error"`
}

// Attempts returns the recorded attempts of a delivery, oldest first.
func (s *Deliveries) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	rows, err := s.rows().attempts(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = r.Attempt
		out[i].StartedAt = r.Started.Time
	}
	return out, nil
}

// Replay sends a delivery again from the start of the schedule, keeping its
// webhook-id so receivers deduplicate it. It fails with ErrDeliveryNotFound.
func (s *Deliveries) Replay(ctx context.Context, actor, id string) error {
	err := s.DB.Tx(ctx, func(tx *store.Tx) error { return s.replayTx(ctx, tx, actor, id) })
	if err == nil && s.Kick != nil {
		s.Kick()
	}
	return err
}

func (s *Deliveries) replayTx(ctx context.Context, tx *store.Tx, actor, id string) error {
	replayed, err := s.rows().replay(ctx, tx, id, s.Clock.Now())
	if err != nil {
		return fmt.Errorf("replay delivery: %w", err)
	}
	if !replayed {
		exists, err := s.rows().exists(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("replay delivery: %w", err)
		}
		if exists {
			return ErrPayloadErased
		}
		return ErrDeliveryNotFound
	}
	return record(ctx, s.Audit, tx, actor, "delivery.replayed", map[string]string{"delivery_id": id}, nil)
}

// ReplayDeadSince replays every dead delivery that died at or after since,
// with no cap, and returns their ids.
func (s *Deliveries) ReplayDeadSince(ctx context.Context, actor string, since time.Time) ([]string, error) {
	ids := []string{}
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if ids, err = s.rows().deadSince(ctx, tx, since); err != nil {
			return fmt.Errorf("find dead deliveries: %w", err)
		}
		for _, id := range ids {
			if err := s.replayTx(ctx, tx, actor, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(ids) > 0 && s.Kick != nil {
		s.Kick()
	}
	return ids, err
}

// CountDeadSince counts the dead deliveries ReplayDeadSince would replay,
// for a confirmation that names the count.
func (s *Deliveries) CountDeadSince(ctx context.Context, since time.Time) (int, error) {
	n, err := s.rows().countDead(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("count dead deliveries: %w", err)
	}
	return n, nil
}

// Backlog returns how many deliveries are pending and when the oldest of
// them was due.
func (s *Deliveries) Backlog(ctx context.Context) (int, time.Time, error) {
	n, oldest, err := s.rows().backlog(ctx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("backlog: %w", err)
	}
	if oldest == "" {
		return n, time.Time{}, nil
	}
	t, err := store.ParseTime(oldest)
	return n, t, err
}

// NoticeCounts are one recipient's erasure notices for a set of orders,
// counted by order: a reminder is not another notice.
type NoticeCounts struct {
	// Notified counts the orders the recipient was sent a notice for.
	Notified int `json:"notified"`
	// Delivered, Pending and Dead split them by their notices' state: one
	// arrived, one is still on its way, or every one failed for good.
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"`
	Dead      int `json:"dead"`
	// Reminders counts the notices sent again because no confirmation came.
	Reminders int `json:"reminders"`
}

// Notice is the erasure notice of one order to one recipient: when it was
// first sent, its state, and how many reminders followed.
type Notice struct {
	OrderID   string    `json:"order_id" db:"order_id"`
	PartnerID string    `json:"partner_id" db:"partner_id"`
	SentAt    time.Time `json:"sent_at" db:"-"`
	Status    Status    `json:"status" db:"-"`
	Reminders int       `json:"reminders" db:"-"`
}

// Notices returns the erasure notices of the given orders, one per order
// and recipient, read through q (nil: the read pool).
func (s *Deliveries) Notices(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) ([]Notice, error) {
	if q == nil {
		q = s.DB.Reader
	}
	out := []Notice{}
	for part := range slices.Chunk(orderIDs, 500) {
		rows, err := s.rows().notices(ctx, q, part)
		if err != nil {
			return nil, fmt.Errorf("erasure notices: %w", err)
		}
		for _, r := range rows {
			n := Notice{OrderID: r.OrderID, PartnerID: r.PartnerID, SentAt: r.First.Time, Reminders: r.Sent - 1, Status: StatusDead}
			switch {
			case r.Delivered > 0:
				n.Status = StatusDelivered
			case r.Pending > 0:
				n.Status = StatusPending
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// ErasureNotices counts, per recipient, the given orders it was sent an
// order.erased for, by the state of those notices.
func (s *Deliveries) ErasureNotices(ctx context.Context, orderIDs []string) (map[string]NoticeCounts, error) {
	ns, err := s.Notices(ctx, nil, orderIDs)
	if err != nil {
		return nil, err
	}
	out := map[string]NoticeCounts{}
	for _, n := range ns {
		c := out[n.PartnerID]
		c.Notified++
		c.Reminders += n.Reminders
		switch n.Status {
		case StatusDelivered:
			c.Delivered++
		case StatusPending:
			c.Pending++
		default:
			c.Dead++
		}
		out[n.PartnerID] = c
	}
	return out, nil
}

// Disclosed is one disclosure of an order's personal data to a recipient,
// from the outbox's own records: what was actually sent, not what the
// configuration says would be (CJEU C-154/21).
type Disclosed struct {
	OrderID   string `json:"order_id" db:"order_id"`
	PartnerID string `json:"partner_id" db:"partner_id"`
	Event     string `json:"event" db:"event_type"`
	Fields    string `json:"fields" db:"fields"`
	Status    Status `json:"status" db:"status"`
	// LastStatus is the HTTP status of the last attempt, if one answered.
	LastStatus *int       `json:"last_http_status,omitempty" db:"last_status"`
	At         time.Time  `json:"at" db:"-"`
	Delivered  *time.Time `json:"delivered_at,omitempty" db:"-"`
	// Imported: an earlier system disclosed it (husky orders import);
	// which fields it sent is not known.
	Imported bool `json:"imported,omitempty" db:"-"`
}

// Disclosures returns every disclosure of the given orders' personal data
// that was made or may have been (delivered, attempted, or in flight),
// oldest first per order.
func (s *Deliveries) Disclosures(ctx context.Context, orderIDs []string) ([]Disclosed, error) {
	out := []Disclosed{}
	for part := range slices.Chunk(orderIDs, 500) {
		rows, err := s.rows().disclosures(ctx, part)
		if err != nil {
			return nil, fmt.Errorf("disclosures: %w", err)
		}
		for _, r := range rows {
			d := r.Disclosed
			d.At, d.Delivered, d.Imported = r.Created.Time, timePtr(r.Deliv), r.Imported
			out = append(out, d)
		}
	}
	return out, nil
}

// HeldBy calls fn with every disclosure of personal data to the recipient
// partnerID made, or maybe made (delivered, attempted or in flight), at or
// before until: the order, the fields it carried ("" for none) and
// whether an earlier system made it (husky orders import), whose fields
// are not known. A breach's impact is counted from it.
func (s *Deliveries) HeldBy(ctx context.Context, partnerID string, until time.Time, fn func(orderID, fields string, imported bool) error) error {
	if err := s.rows().heldBy(ctx, partnerID, until, fn); err != nil {
		return fmt.Errorf("disclosures to %s: %w", partnerID, err)
	}
	return nil
}

// AllDelivered returns those of the given orders whose every
// order.created delivery has arrived (and that have some).
func (s *Deliveries) AllDelivered(ctx context.Context, orderIDs []string) ([]string, error) {
	return allDelivered(ctx, deliveryRows{s.DB}, s.DB.Reader, orderIDs)
}

// allDelivered is AllDelivered read through r.
func allDelivered(ctx context.Context, q deliveryRows, r sqlx.QueryerContext, orderIDs []string) ([]string, error) {
	var out []string
	for part := range slices.Chunk(orderIDs, 500) {
		done, err := q.allDelivered(ctx, r, part)
		if err != nil {
			return nil, fmt.Errorf("find shared orders: %w", err)
		}
		out = append(out, done...)
	}
	return out, nil
}

// Held counts the deliveries held by a restriction.
func (s *Deliveries) Held(ctx context.Context) (int, error) {
	n, err := s.rows().heldCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("held deliveries: %w", err)
	}
	return n, nil
}

// Health returns, per recipient that is failing now, when its current run
// of failures began.
func (s *Deliveries) Health(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.rows().health(ctx)
	if err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.Since.Time
	}
	return out, nil
}
