package sharing

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

const (
	deliveryColumns   = `id, partner_id, order_id, event_type, payload_sha256, fields, status, attempts, next_attempt_at, created_at, delivered_at, dead_at, last_status, last_error`
	sqlInsertDelivery = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, order_erased, held)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	sqlRecipientsOfOrder        = `SELECT DISTINCT partner_id FROM deliveries WHERE order_id = $1 AND event_type = $2 ORDER BY partner_id`
	sqlInsertImportedDisclosure = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, delivered_at)
		VALUES ($1, $2, $3, $4, $5, '', '', 'delivered', 0, $6, $7, $8, $9)`
	sqlSharedWith = `SELECT COUNT(*) FROM deliveries WHERE order_id = $1 AND partner_id = $2 AND event_type = $3`
	sqlNoticeSent = `SELECT COUNT(*) FROM deliveries WHERE order_id = $1 AND partner_id = $2 AND event_type = $3
		AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL)`
	sqlRelease       = `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`
	sqlInsertAttempt = `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, http_status, error, response_body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	sqlRetry = `UPDATE deliveries SET attempts = $1, step = $2, next_attempt_at = $3, updated_at = $4, last_status = $5, last_error = $6,
		lease_owner = NULL, lease_until = NULL WHERE id = $7 AND lease_owner = $8`
	sqlDead = `UPDATE deliveries SET status = 'dead', attempts = $1, step = $2, dead_at = $3, updated_at = $4, last_status = $5, last_error = $6,
		lease_owner = NULL, lease_until = NULL WHERE id = $7 AND lease_owner = $8`
	// Endpoint health is sharing's own table: the partners package owns
	// whether a partner is enabled, and is asked to change it.
	sqlPartnerHealthy = `DELETE FROM endpoint_health WHERE partner_id = $1`
	sqlPartnerFailing = `INSERT INTO endpoint_health (partner_id, failing_since) VALUES ($1, $2)
		ON CONFLICT (partner_id) DO UPDATE SET failing_since = endpoint_health.failing_since RETURNING failing_since`
	sqlHealth = `SELECT partner_id, failing_since FROM endpoint_health`
	// A delivery whose payload was erased (a purged order, an imported
	// disclosure) has nothing left to send: it is not replayed.
	sqlReplay = `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, step = 0, dead_at = NULL,
		delivered_at = NULL, updated_at = $2, lease_owner = NULL, lease_until = NULL,
		held = CASE WHEN fields != '' AND EXISTS (SELECT 1 FROM restricted_orders r WHERE r.order_id = deliveries.order_id) THEN 1 ELSE 0 END
		WHERE id = $3 AND length(payload) > 0`
	sqlDeadSince   = `SELECT id FROM deliveries WHERE status = 'dead' AND dead_at >= $1 AND length(payload) > 0 ORDER BY dead_at, id`
	sqlExists      = `SELECT COUNT(*) FROM deliveries WHERE id = $1`
	sqlGetDelivery = `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id = $1`
)

// claimed is a delivery a worker holds the lease on.
type claimed struct {
	ID            string `db:"id"`
	PartnerID     string `db:"partner_id"`
	OrderID       string `db:"order_id"`
	EventType     string `db:"event_type"`
	Payload       []byte `db:"payload"`
	Fields        string `db:"fields"`
	PayloadSHA256 string `db:"payload_sha256"`
	Attempts      int    `db:"attempts"`
	Step          int    `db:"step"`

	leaseUntil time.Time
	key        *vault.Key // opens a sealed payload
}

type deliveryRow struct {
	ID            string     `db:"id"`
	PartnerID     string     `db:"partner_id"`
	OrderID       *string    `db:"order_id"`
	EventType     string     `db:"event_type"`
	PayloadSHA256 string     `db:"payload_sha256"`
	Fields        string     `db:"fields"`
	Status        string     `db:"status"`
	Attempts      int        `db:"attempts"`
	NextAttemptAt store.Time `db:"next_attempt_at"`
	CreatedAt     store.Time `db:"created_at"`
	DeliveredAt   store.Time `db:"delivered_at"`
	DeadAt        store.Time `db:"dead_at"`
	LastStatus    *int       `db:"last_status"`
	LastError     string     `db:"last_error"`
}

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
	// Each filter set adds its condition, whose parameter is numbered
	// after those before it; the list's index for the filters chosen
	// stays usable (a condition such as ($1 = '' OR order_id = $1) would
	// not be).
	var (
		where []string
		args  []any
	)
	add := func(column string, v any) {
		args = append(args, v)
		where = append(where, column+" $"+strconv.Itoa(len(args)))
	}
	if f.Status != "" {
		add("status =", f.Status)
	}
	if f.OrderID != "" {
		add("order_id =", f.OrderID)
	}
	if f.PartnerID != "" {
		add("partner_id =", f.PartnerID)
	}
	if f.After != "" {
		add("id <", f.After)
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	q += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	var rows []deliveryRow
	if err := s.DB.Reader.SelectContext(ctx, &rows, q, args...); err != nil {
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
	var r deliveryRow
	if err := s.DB.Reader.GetContext(ctx, &r, sqlGetDelivery, id); err != nil {
		if store.IsNoRows(err) {
			return Delivery{}, ErrDeliveryNotFound
		}
		return Delivery{}, fmt.Errorf("get delivery: %w", err)
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
	var rows []struct {
		Attempt
		Started store.Time `db:"started_at"`
	}
	if err := s.DB.Reader.SelectContext(ctx, &rows, `SELECT attempt, started_at, duration_ms, http_status, error
		FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`, id); err != nil {
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
	now := store.FormatTime(s.Clock.Now())
	res, err := tx.ExecContext(ctx, sqlReplay, now, now, id)
	if err != nil {
		return fmt.Errorf("replay delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := tx.GetContext(ctx, &exists, sqlExists, id); err != nil {
			return fmt.Errorf("replay delivery: %w", err)
		}
		if exists > 0 {
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
		if err := tx.SelectContext(ctx, &ids, sqlDeadSince, store.FormatTime(since)); err != nil {
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
	var n int
	if err := s.DB.Reader.GetContext(ctx, &n, statements.For(s.DB.Engine).countDead, store.FormatTime(since)); err != nil {
		return 0, fmt.Errorf("count dead deliveries: %w", err)
	}
	return n, nil
}

// Backlog returns how many deliveries are pending and when the oldest of
// them was due.
func (s *Deliveries) Backlog(ctx context.Context) (int, time.Time, error) {
	var r struct {
		N      int    `db:"n"`
		Oldest string `db:"oldest"`
	}
	if err := s.DB.Reader.GetContext(ctx, &r, statements.For(s.DB.Engine).backlog); err != nil {
		return 0, time.Time{}, fmt.Errorf("backlog: %w", err)
	}
	if r.Oldest == "" {
		return r.N, time.Time{}, nil
	}
	t, err := store.ParseTime(r.Oldest)
	return r.N, t, err
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
		var rows []struct {
			OrderID   string     `db:"order_id"`
			PartnerID string     `db:"partner_id"`
			First     store.Time `db:"first_at"`
			Sent      int        `db:"sent"`
			Delivered int        `db:"delivered"`
			Pending   int        `db:"pending"`
		}
		if err := sqlx.SelectContext(ctx, q, &rows, statements.For(s.DB.Engine).notices, EventOrderErased, s.DB.List(part)); err != nil {
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
		var rows []struct {
			Disclosed
			Created  store.Time `db:"created_at"`
			Deliv    store.Time `db:"delivered_at"`
			Imported bool       `db:"imported"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, statements.For(s.DB.Engine).disclosures, s.DB.List(part)); err != nil {
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

// AllDelivered returns those of the given orders whose every
// order.created delivery has arrived (and that have some).
func (s *Deliveries) AllDelivered(ctx context.Context, orderIDs []string) ([]string, error) {
	return allDelivered(ctx, s.DB.Reader, s.DB.Engine, orderIDs)
}

// allDelivered is AllDelivered read through q.
func allDelivered(ctx context.Context, q sqlx.QueryerContext, e store.Engine, orderIDs []string) ([]string, error) {
	var out []string
	for part := range slices.Chunk(orderIDs, 500) {
		var done []string
		if err := sqlx.SelectContext(ctx, q, &done, statements.For(e).allDelivered, store.List(e, part), EventOrderCreated); err != nil {
			return nil, fmt.Errorf("find shared orders: %w", err)
		}
		out = append(out, done...)
	}
	return out, nil
}

// Held counts the deliveries held by a restriction.
func (s *Deliveries) Held(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.Reader.GetContext(ctx, &n, statements.For(s.DB.Engine).heldCount); err != nil {
		return 0, fmt.Errorf("held deliveries: %w", err)
	}
	return n, nil
}

// Health returns, per recipient that is failing now, when its current run
// of failures began.
func (s *Deliveries) Health(ctx context.Context) (map[string]time.Time, error) {
	var rows []struct {
		PartnerID string     `db:"partner_id"`
		Since     store.Time `db:"failing_since"`
	}
	if err := s.DB.Reader.SelectContext(ctx, &rows, sqlHealth); err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.Since.Time
	}
	return out, nil
}

// noBytes is the empty payload of a delivery with nothing (left) to send:
// bound as a parameter, since the two engines spell an empty byte string
// differently.
var noBytes = []byte{}
