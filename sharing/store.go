package sharing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// claimFree is the condition under which delivery d may be leased, with
// three parameters: now, this dispatcher's id, and the heartbeat time
// before which an owner counts as dead.
const claimFree = `(d.lease_until IS NULL OR d.lease_until < ?
	OR (d.lease_owner != ? AND NOT EXISTS (SELECT 1 FROM dispatchers AS h WHERE h.id = d.lease_owner AND h.heartbeat_at >= ?)))`

// overtakes is true when delivery d would overtake an earlier pending
// message about the same order to the same recipient.
const overtakes = `EXISTS (SELECT 1 FROM deliveries AS e INDEXED BY deliveries_order WHERE e.order_id = d.order_id
	AND e.partner_id = d.partner_id AND e.status = 'pending' AND e.id < d.id
	AND (e.held = 0 OR d.event_type NOT IN ('` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `')))`

const (
	deliveryColumns   = `id, partner_id, order_id, event_type, payload_sha256, fields, status, attempts, next_attempt_at, created_at, delivered_at, dead_at, last_status, last_error`
	sqlInsertDelivery = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, order_erased, held)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlRecipientsOfOrder        = `SELECT DISTINCT partner_id FROM deliveries WHERE order_id = ? AND event_type = ? ORDER BY partner_id`
	sqlInsertImportedDisclosure = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, '', '', 'delivered', 0, ?, ?, ?, ?)`
	// status || '' keeps SQLite's planner on the order index: the status
	// index would scan every pending delivery.
	sqlDropPending = `UPDATE deliveries SET status = 'dead', dead_at = ?, updated_at = ?, last_error = 'order erased before delivery',
		lease_owner = NULL, lease_until = NULL WHERE order_id IN (?) AND status || '' = 'pending' AND event_type NOT IN (?)`
	sqlErasePayloads = `UPDATE deliveries SET order_erased = 1,
		payload = CASE WHEN status = 'pending' AND event_type IN (?) THEN payload ELSE ? END WHERE order_id IN (?)`
	sqlEraseAttemptBodies = `UPDATE delivery_attempts SET response_body = NULL
		WHERE response_body IS NOT NULL AND delivery_id IN (SELECT id FROM deliveries WHERE order_id IN (?))`
	sqlDisclosedTo = `SELECT DISTINCT order_id, partner_id FROM deliveries WHERE order_id IN (?) AND event_type = ?
		AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL) ORDER BY order_id, partner_id`
	sqlSharedWith = `SELECT COUNT(*) FROM deliveries WHERE order_id = ? AND partner_id = ? AND event_type = ?`
	sqlNoticeSent = `SELECT COUNT(*) FROM deliveries WHERE order_id = ? AND partner_id = ? AND event_type = ?
		AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL)`
	// Claiming is two statements: find due ids through the due index (on
	// the read pool), then lease exactly those rows by primary key, if
	// they are still due. (An UPDATE … WHERE id IN (SELECT … LIMIT n)
	// scans the whole table.)
	//
	// Messages about one order reach a recipient in the order they were
	// queued: a delivery waits while an earlier one for the same recipient
	// and order is still pending (ids are time-ordered), so order.cancelled
	// never overtakes order.created. A dead delivery no longer holds the
	// queue.
	//
	// A claim is free when it has no lease, its lease ran out, or its owner
	// (another dispatcher) stopped beating: see heartbeat.go.
	//
	// A held delivery (a restricted order's personal data) is not due. It
	// still holds back later messages about its order to its recipient
	// (an order.cancelled must not overtake the order.created it
	// cancels), except the restriction notices themselves, which go.
	sqlDue = `SELECT d.id FROM deliveries AS d INDEXED BY deliveries_due
		WHERE d.partner_id = ? AND d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= ?
			AND ` + claimFree + ` AND NOT ` + overtakes + `
		ORDER BY d.next_attempt_at LIMIT ?`
	// On PostgreSQL, where several dispatchers claim at once, the rows are
	// locked first, skipping those another is leasing right now
	// (leaseLocked), rather than waiting for it.
	//
	// status || '' keeps PostgreSQL on the primary key: without statistics
	// (a table grown since the last ANALYZE, or autovacuum off) it took
	// the due index for a one-row index and scanned every pending delivery
	// for each candidate, 13 s a claim with 58,000 pending.
	sqlLease = `UPDATE deliveries AS d SET lease_owner = ?, lease_until = ? WHERE d.id IN (%s)
			AND d.status || '' = 'pending' AND d.held = 0 AND ` + claimFree + ` AND NOT ` + overtakes + `
		RETURNING id, partner_id, COALESCE(order_id, '') AS order_id, event_type, payload, fields, payload_sha256, attempts, step`
	sqlHeld          = `SELECT id, order_erased FROM deliveries WHERE lease_owner = ? AND id IN (?)`
	sqlRelease       = `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`
	sqlInsertAttempt = `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, http_status, error, response_body)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	sqlDelivered = `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, step = step + 1, delivered_at = ?,
		updated_at = ?, last_status = ?, last_error = '', lease_owner = NULL, lease_until = NULL
		WHERE lease_owner = ? AND id IN (?)`
	// The orders among a set whose every order.created has arrived. A
	// scalar subquery per order runs once per order through the order
	// index on both engines, whatever the planner's statistics say: as a
	// GROUP BY over order_id IN (…), or as EXISTS joins, PostgreSQL
	// without statistics chose a scan of every delivery (90-114 ms a call
	// with 80,000). No order.created at all gives NULL, not 0.
	sqlAllDelivered = `SELECT v.column1 FROM (VALUES %s) AS v
		WHERE (SELECT SUM(CASE WHEN d.status = 'delivered' THEN 0 ELSE 1 END) FROM deliveries AS d
			WHERE d.order_id = v.column1 AND d.event_type = ?) = 0`
	sqlRetry = `UPDATE deliveries SET attempts = ?, step = ?, next_attempt_at = ?, updated_at = ?, last_status = ?, last_error = ?,
		lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`
	sqlDead = `UPDATE deliveries SET status = 'dead', attempts = ?, step = ?, dead_at = ?, updated_at = ?, last_status = ?, last_error = ?,
		lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`
	// Endpoint health is sharing's own table: the partners package owns
	// whether a partner is enabled, and is asked to change it.
	sqlPartnerHealthy = `DELETE FROM endpoint_health WHERE partner_id = ?`
	sqlPartnerFailing = `INSERT INTO endpoint_health (partner_id, failing_since) VALUES (?, ?)
		ON CONFLICT (partner_id) DO UPDATE SET failing_since = endpoint_health.failing_since RETURNING failing_since`
	sqlHealth = `SELECT partner_id, failing_since FROM endpoint_health`
	// A delivery whose payload was erased (a purged order, an imported
	// disclosure) has nothing left to send: it is not replayed.
	sqlReplay = `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, step = 0, dead_at = NULL,
		delivered_at = NULL, updated_at = ?, lease_owner = NULL, lease_until = NULL,
		held = CASE WHEN fields != '' AND EXISTS (SELECT 1 FROM restricted_orders r WHERE r.order_id = deliveries.order_id) THEN 1 ELSE 0 END
		WHERE id = ? AND length(payload) > 0`
	sqlDeadSince = `SELECT id FROM deliveries WHERE status = 'dead' AND dead_at >= ? AND length(payload) > 0 ORDER BY dead_at, id`
	sqlExists    = `SELECT COUNT(*) FROM deliveries WHERE id = ?`
	sqlBacklog   = `SELECT COUNT(*) AS n, COALESCE(MIN(next_attempt_at), '') AS oldest FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND held = 0`
	sqlGetDelivery = `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id = ?`
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
	Now   func() time.Time
	// Kick wakes the dispatcher after a replay.
	Kick func()
}

func (s *Deliveries) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

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
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.OrderID != "" {
		where = append(where, "order_id = ?")
		args = append(args, f.OrderID)
	}
	if f.PartnerID != "" {
		where = append(where, "partner_id = ?")
		args = append(args, f.PartnerID)
	}
	if f.After != "" {
		where = append(where, "id < ?")
		args = append(args, f.After)
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit+1)
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
		FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt`, id); err != nil {
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
	now := store.FormatTime(s.now())
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
	if err := s.DB.Reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_dead
		WHERE status = 'dead' AND dead_at >= ? AND length(payload) > 0`, store.FormatTime(since)); err != nil {
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
	if err := s.DB.Reader.GetContext(ctx, &r, sqlBacklog); err != nil {
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

const sqlNotices = `SELECT order_id, partner_id, MIN(created_at) AS first_at, COUNT(*) AS sent,
	SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
	SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending
	FROM deliveries WHERE event_type = ? AND order_id IN (?) GROUP BY order_id, partner_id ORDER BY order_id, partner_id`

// Notices returns the erasure notices of the given orders, one per order
// and recipient, read through q (nil: the read pool).
func (s *Deliveries) Notices(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) ([]Notice, error) {
	if q == nil {
		q = s.DB.Reader
	}
	out := []Notice{}
	for part := range slices.Chunk(orderIDs, 500) {
		query, args, err := sqlx.In(sqlNotices, EventOrderErased, part)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			OrderID   string     `db:"order_id"`
			PartnerID string     `db:"partner_id"`
			First     store.Time `db:"first_at"`
			Sent      int        `db:"sent"`
			Delivered int        `db:"delivered"`
			Pending   int        `db:"pending"`
		}
		if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
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

const sqlDisclosures = `SELECT order_id, partner_id, event_type, fields, status, last_status, created_at, delivered_at,
	length(payload) = 0 AND attempts = 0 AS imported FROM deliveries
	WHERE order_id IN (?) AND event_type IN (?) AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL)
	ORDER BY order_id, created_at`

// Disclosures returns every disclosure of the given orders' personal data
// that was made or may have been (delivered, attempted, or in flight),
// oldest first per order.
func (s *Deliveries) Disclosures(ctx context.Context, orderIDs []string) ([]Disclosed, error) {
	out := []Disclosed{}
	for part := range slices.Chunk(orderIDs, 500) {
		q, args, err := sqlx.In(sqlDisclosures, part, []string{EventOrderCreated, EventOrderUpdated})
		if err != nil {
			return nil, err
		}
		var rows []struct {
			Disclosed
			Created  store.Time `db:"created_at"`
			Deliv    store.Time `db:"delivered_at"`
			Imported bool       `db:"imported"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, q, args...); err != nil {
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
	return allDelivered(ctx, s.DB.Reader, orderIDs)
}

// allDelivered is AllDelivered read through q.
func allDelivered(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) ([]string, error) {
	var out []string
	for part := range slices.Chunk(orderIDs, 500) {
		args := make([]any, 0, len(part)+2)
		for _, id := range part {
			args = append(args, id)
		}
		args = append(args, EventOrderCreated)
		query := fmt.Sprintf(sqlAllDelivered, strings.TrimSuffix(strings.Repeat("(?), ", len(part)), ", "))
		var done []string
		if err := sqlx.SelectContext(ctx, q, &done, query, args...); err != nil {
			return nil, fmt.Errorf("find shared orders: %w", err)
		}
		out = append(out, done...)
	}
	return out, nil
}

// Held counts the deliveries held by a restriction.
func (s *Deliveries) Held(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.Reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_held WHERE held = 1`); err != nil {
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
