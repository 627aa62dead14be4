package sharing

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// The statements of sharing's delivery tables (deliveries,
// delivery_attempts, endpoint_health, dispatchers), as methods of
// deliveryRows; store_restrict.go has the restrictions'; what differs
// between the engines is in statements.go.
const (
	deliveryColumns   = `id, partner_id, order_id, event_type, payload_sha256, fields, status, attempts, next_attempt_at, created_at, delivered_at, dead_at, last_status, last_error`
	sqlInsertDelivery = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, order_erased, held, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	sqlRecipientsOfOrder        = `SELECT DISTINCT partner_id FROM deliveries WHERE order_id = $1 AND event_type = $2 ORDER BY partner_id`
	sqlInsertImportedDisclosure = `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields,
		status, attempts, next_attempt_at, created_at, updated_at, delivered_at)
		VALUES ($1, $2, $3, $4, $5, '', '', 'delivered', 0, $6, $6, $6, $6)`
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
	sqlAttempts    = `SELECT attempt, started_at, duration_ms, http_status, error
		FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`
	sqlSealPayload = `UPDATE deliveries SET payload = $1 WHERE id = $2`
	sqlSealBody    = `UPDATE delivery_attempts SET response_body = $1 WHERE delivery_id = $2 AND attempt = $3`

	// Every running dispatcher keeps a heartbeat row (heartbeat.go).
	sqlHeartbeatStart = `INSERT INTO dispatchers (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`
	sqlHeartbeat    = `UPDATE dispatchers SET heartbeat_at = $1 WHERE id = $2`
	sqlHeartbeatEnd = `DELETE FROM dispatchers WHERE id = $1`
	// Rows of dispatchers dead for a day go; their claims were free long
	// before.
	sqlHeartbeatsForget = `DELETE FROM dispatchers WHERE heartbeat_at < $1`
)

// deliveryRows reads and writes sharing's delivery tables. Reads take r, a
// transaction or the read pool; writes take the transaction.
type deliveryRows struct{ db *store.DB }

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
	TraceParent   string `db:"trace_parent"` // the trace it continues

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

// newDelivery is a delivery's row as queued.
type newDelivery struct {
	ID, PartnerID, OrderID, Event string
	Payload                       []byte // sealed where it carries personal data
	PayloadSHA256, Fields         string
	At                            time.Time
	OrderErased, Held             bool
	TraceParent                   string // the W3C traceparent of the work that queued it
}

// insert queues the deliveries, many rows per statement.
func (q deliveryRows) insert(ctx context.Context, tx *store.Tx, ds []newDelivery) error {
	args := make([]any, 0, 15*len(ds))
	for _, d := range ds {
		var oid any
		if d.OrderID != "" {
			oid = d.OrderID
		}
		at := store.FormatTime(d.At)
		args = append(args, d.ID, d.PartnerID, oid, d.Event, d.Payload, d.PayloadSHA256, d.Fields, StatusPending, 0, at, at, at,
			d.OrderErased, d.Held, d.TraceParent)
	}
	return store.InsertRows(ctx, tx, sqlInsertDelivery, 15, args)
}

// insertImported records, as a delivered order.created with no payload,
// that an earlier system disclosed the order to the partner at at.
func (q deliveryRows) insertImported(ctx context.Context, tx *store.Tx, id, partnerID, orderID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlInsertImportedDisclosure, id, partnerID, orderID, EventOrderCreated, noBytes, store.FormatTime(at))
	return err
}

// sharedWith counts the partner's order.created deliveries of the order.
func (q deliveryRows) sharedWith(ctx context.Context, r sqlx.QueryerContext, orderID, partnerID string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, r, &n, sqlSharedWith, orderID, partnerID, EventOrderCreated)
	return n, err
}

// noticesSent counts the partner's erasure notices of the order that
// arrived, were attempted or are in flight.
func (q deliveryRows) noticesSent(ctx context.Context, r sqlx.QueryerContext, orderID, partnerID string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, r, &n, sqlNoticeSent, orderID, partnerID, EventOrderErased)
	return n, err
}

// recipientsOf returns the partners sent the event for the order.
func (q deliveryRows) recipientsOf(ctx context.Context, tx *store.Tx, orderID, event string) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, sqlRecipientsOfOrder, orderID, event)
	return ids, err
}

// dueParams finds up to Limit deliveries to a partner due at Now and free
// to claim for Owner (no lease, or one that ran out, or an owner whose
// heartbeat is older than StaleBefore).
type dueParams struct {
	PartnerID        string
	Now, StaleBefore time.Time
	Owner            string
	Limit            int
}

func (q deliveryRows) due(ctx context.Context, p dueParams) ([]string, error) {
	var ids []string
	now := store.FormatTime(p.Now)
	err := q.db.Reader.SelectContext(ctx, &ids, statements.For(q.db.Engine).due, p.PartnerID, now, now, p.Owner,
		store.FormatTime(p.StaleBefore), p.Limit)
	return ids, err
}

// leaseParams leases to Owner until Until those of IDs still due and free.
type leaseParams struct {
	Owner                   string
	Until, Now, StaleBefore time.Time
	IDs                     []string
}

func (q deliveryRows) lease(ctx context.Context, tx *store.Tx, p leaseParams) ([]claimed, error) {
	var out []claimed
	err := tx.SelectContext(ctx, &out, statements.For(q.db.Engine).lease, p.Owner, store.FormatTime(p.Until), tx.List(p.IDs),
		store.FormatTime(p.Now), p.Owner, store.FormatTime(p.StaleBefore))
	return out, err
}

type leaseRow struct {
	ID     string `db:"id"`
	Erased bool   `db:"order_erased"`
}

// held returns which of the deliveries the owner still leases, and
// whether their orders were erased meanwhile.
func (q deliveryRows) held(ctx context.Context, tx *store.Tx, owner string, ids []string) ([]leaseRow, error) {
	var rows []leaseRow
	err := tx.SelectContext(ctx, &rows, statements.For(q.db.Engine).held, owner, tx.List(ids))
	return rows, err
}

// release gives the owner's lease on the delivery back.
func (q deliveryRows) release(ctx context.Context, tx *store.Tx, id, owner string) error {
	_, err := tx.ExecContext(ctx, sqlRelease, id, owner)
	return err
}

// attemptRow is one recorded attempt; Body is sealed, or nil.
type attemptRow struct {
	DeliveryID string
	Attempt    int
	Started    time.Time
	DurationMS float64
	HTTPStatus any // nil when no answer came
	Error      string
	Body       []byte
}

// insertAttempts records attempts, many rows per statement.
func (q deliveryRows) insertAttempts(ctx context.Context, tx *store.Tx, as []attemptRow) error {
	args := make([]any, 0, 7*len(as))
	for _, a := range as {
		args = append(args, a.DeliveryID, a.Attempt, store.FormatTime(a.Started), a.DurationMS, a.HTTPStatus, a.Error, a.Body)
	}
	return store.InsertRows(ctx, tx, sqlInsertAttempt, 7, args)
}

// deliveredParams marks the owner's leased deliveries IDs delivered with
// one HTTP status.
type deliveredParams struct {
	At     time.Time
	Status int
	Owner  string
	IDs    []string
}

func (q deliveryRows) delivered(ctx context.Context, tx *store.Tx, p deliveredParams) error {
	at := store.FormatTime(p.At)
	_, err := tx.ExecContext(ctx, statements.For(q.db.Engine).delivered, at, at, p.Status, p.Owner, tx.List(p.IDs))
	return err
}

// failedParams records a failed attempt of the owner's leased delivery:
// Dead ends it, otherwise it is tried again at Next.
type failedParams struct {
	ID, Owner      string
	Attempts, Step int
	Now, Next      time.Time
	Dead           bool
	Status         any
	Error          string
}

func (q deliveryRows) failed(ctx context.Context, tx *store.Tx, p failedParams) error {
	query, at := sqlRetry, p.Next
	if p.Dead {
		query, at = sqlDead, p.Now
	}
	_, err := tx.ExecContext(ctx, query, p.Attempts, p.Step, store.FormatTime(at), store.FormatTime(p.Now), p.Status, p.Error, p.ID, p.Owner)
	return err
}

// healthy ends the partner's run of failures.
func (q deliveryRows) healthy(ctx context.Context, tx *store.Tx, partnerID string) error {
	_, err := tx.ExecContext(ctx, sqlPartnerHealthy, partnerID)
	return err
}

// failing starts the partner's run of failures at now unless one is under
// way, and returns when it began.
func (q deliveryRows) failing(ctx context.Context, tx *store.Tx, partnerID string, now time.Time) (time.Time, error) {
	var since store.Time
	err := tx.GetContext(ctx, &since, sqlPartnerFailing, partnerID, store.FormatTime(now))
	return since.Time, err
}

type healthRow struct {
	PartnerID string     `db:"partner_id"`
	Since     store.Time `db:"failing_since"`
}

// health returns every recipient's current run of failures.
func (q deliveryRows) health(ctx context.Context) ([]healthRow, error) {
	var rows []healthRow
	err := q.db.Reader.SelectContext(ctx, &rows, sqlHealth)
	return rows, err
}

// list returns up to f.Limit+1 deliveries, newest first. Each filter set
// adds its condition, whose parameter is numbered after those before it;
// the list's index for the filters chosen stays usable (a condition such
// as ($1 = ” OR order_id = $1) would not be).
func (q deliveryRows) list(ctx context.Context, f ListFilter) ([]deliveryRow, error) {
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
	query := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	query += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	var rows []deliveryRow
	err := q.db.Reader.SelectContext(ctx, &rows, query, args...)
	return rows, err
}

// get reads one delivery, ok false when there is none.
func (q deliveryRows) get(ctx context.Context, id string) (row deliveryRow, ok bool, err error) {
	err = q.db.Reader.GetContext(ctx, &row, sqlGetDelivery, id)
	if store.IsNoRows(err) {
		return deliveryRow{}, false, nil
	}
	return row, err == nil, err
}

type attemptScan struct {
	Attempt
	Started store.Time `db:"started_at"`
}

// attempts returns the delivery's recorded attempts, oldest first.
func (q deliveryRows) attempts(ctx context.Context, id string) ([]attemptScan, error) {
	var rows []attemptScan
	err := q.db.Reader.SelectContext(ctx, &rows, sqlAttempts, id)
	return rows, err
}

// replay makes the delivery pending again from the start of its schedule,
// unless its payload was erased; it reports whether it did.
func (q deliveryRows) replay(ctx context.Context, tx *store.Tx, id string, now time.Time) (bool, error) {
	at := store.FormatTime(now)
	res, err := tx.ExecContext(ctx, sqlReplay, at, at, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q deliveryRows) exists(ctx context.Context, tx *store.Tx, id string) (bool, error) {
	var n int
	err := tx.GetContext(ctx, &n, sqlExists, id)
	return n > 0, err
}

// deadSince returns the dead deliveries with a payload that died at or
// after since; countDead counts them.
func (q deliveryRows) deadSince(ctx context.Context, tx *store.Tx, since time.Time) ([]string, error) {
	ids := []string{}
	err := tx.SelectContext(ctx, &ids, sqlDeadSince, store.FormatTime(since))
	return ids, err
}

func (q deliveryRows) countDead(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := q.db.Reader.GetContext(ctx, &n, statements.For(q.db.Engine).countDead, store.FormatTime(since))
	return n, err
}

// backlog returns how many deliveries are pending and when the oldest was
// due (empty when none is).
func (q deliveryRows) backlog(ctx context.Context) (int, string, error) {
	var r struct {
		N      int    `db:"n"`
		Oldest string `db:"oldest"`
	}
	err := q.db.Reader.GetContext(ctx, &r, statements.For(q.db.Engine).backlog)
	return r.N, r.Oldest, err
}

// heldCount counts the deliveries a restriction holds.
func (q deliveryRows) heldCount(ctx context.Context) (int, error) {
	var n int
	err := q.db.Reader.GetContext(ctx, &n, statements.For(q.db.Engine).heldCount)
	return n, err
}

type noticeRow struct {
	OrderID   string     `db:"order_id"`
	PartnerID string     `db:"partner_id"`
	First     store.Time `db:"first_at"`
	Sent      int        `db:"sent"`
	Delivered int        `db:"delivered"`
	Pending   int        `db:"pending"`
}

// notices groups the orders' erasure notices by order and recipient.
func (q deliveryRows) notices(ctx context.Context, r sqlx.QueryerContext, orderIDs []string) ([]noticeRow, error) {
	var rows []noticeRow
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).notices, EventOrderErased, q.db.List(orderIDs))
	return rows, err
}

// noticesDueParams pages the erasure notices first sent since Since and
// sent at most Times times, none still on its way, after the cursor.
type noticesDueParams struct {
	AfterOrder, AfterPartner string
	Since                    time.Time
	Times, Limit             int
}

func (q deliveryRows) noticesDue(ctx context.Context, p noticesDueParams) ([]noticeRow, error) {
	var rows []noticeRow
	err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).noticesDue, p.AfterOrder, p.AfterPartner,
		store.FormatTime(p.Since), p.Times, p.Limit)
	return rows, err
}

type disclosureRow struct {
	Disclosed
	Created  store.Time `db:"created_at"`
	Deliv    store.Time `db:"delivered_at"`
	Imported bool       `db:"imported"`
}

// disclosures returns the orders' disclosures made or maybe made.
func (q deliveryRows) disclosures(ctx context.Context, orderIDs []string) ([]disclosureRow, error) {
	var rows []disclosureRow
	err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).disclosures, q.db.List(orderIDs))
	return rows, err
}

// sqlHeldBy is what one recipient received, or may have, of personal
// data up to a time: the same disclosures as disclosuresSelect, through
// the recipient's index.
const sqlHeldBy = `SELECT order_id, fields, length(payload) = 0 AND attempts = 0 AS imported FROM deliveries
	WHERE partner_id = $1 AND event_type IN ('` + EventOrderCreated + `', '` + EventOrderUpdated + `')
		AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL) AND created_at <= $2`

// heldBy calls fn with each disclosure of personal data to partnerID made,
// or maybe made, at or before until, in no particular order.
func (q deliveryRows) heldBy(ctx context.Context, partnerID string, until time.Time, fn func(orderID, fields string, imported bool) error) error {
	rows, err := q.db.Reader.QueryContext(ctx, sqlHeldBy, partnerID, store.FormatTime(until))
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		orderID  string
		fields   sql.RawBytes
		imported bool
		seen     = map[string]string{} // a few field lists, read once each
	)
	for rows.Next() {
		if err := rows.Scan(&orderID, &fields, &imported); err != nil {
			return err
		}
		f, ok := seen[string(fields)]
		if !ok {
			f = string(fields)
			seen[f] = f
		}
		if err := fn(orderID, f, imported); err != nil {
			return err
		}
	}
	return rows.Err()
}

type holderRow struct {
	OrderID   string `db:"order_id"`
	PartnerID string `db:"partner_id"`
}

// disclosedTo returns who received, or may have, the orders' order.created.
func (q deliveryRows) disclosedTo(ctx context.Context, tx *store.Tx, orderIDs []string) ([]holderRow, error) {
	var rows []holderRow
	err := tx.SelectContext(ctx, &rows, statements.For(q.db.Engine).disclosedTo, tx.List(orderIDs), EventOrderCreated)
	return rows, err
}

// allDelivered returns those of the orders whose every order.created
// arrived.
func (q deliveryRows) allDelivered(ctx context.Context, r sqlx.QueryerContext, orderIDs []string) ([]string, error) {
	var done []string
	err := sqlx.SelectContext(ctx, r, &done, statements.For(q.db.Engine).allDelivered, q.db.List(orderIDs), EventOrderCreated)
	return done, err
}

// erase drops the orders' pending deliveries that carry personal data,
// empties their payloads and recorded answers, and lifts their
// restrictions (nothing is left to restrict).
func (q deliveryRows) erase(ctx context.Context, tx *store.Tx, orderIDs []string, now time.Time) error {
	s, ids, at := statements.For(q.db.Engine), tx.List(orderIDs), store.FormatTime(now)
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{s.dropPending, []any{at, at, ids}},
		// Payloads go, and so does whatever a recipient answers from now
		// on (an echo of the data would otherwise outlive the erasure).
		{s.erasePayload, []any{noBytes, ids}},
		{s.eraseBodies, []any{ids}},
		{s.unrestrict, []any{ids}},
	} {
		if _, err := tx.ExecContext(ctx, stmt.sql, stmt.args...); err != nil {
			return err
		}
	}
	return nil
}

type plainPayload struct {
	ID      string `db:"id"`
	OrderID string `db:"order_id"`
	Payload []byte `db:"payload"`
}

type plainBody struct {
	DeliveryID string `db:"delivery_id"`
	Attempt    int    `db:"attempt"`
	OrderID    string `db:"order_id"`
	Body       []byte `db:"response_body"`
}

// plainPayloads and plainBodies return the orders' payloads and answer
// bodies not yet sealed; sealPayload and sealBody seal one.
func (q deliveryRows) plainPayloads(ctx context.Context, tx *store.Tx, orderIDs []string) ([]plainPayload, error) {
	var rows []plainPayload
	err := tx.SelectContext(ctx, &rows, statements.For(q.db.Engine).plainPays, tx.List(orderIDs))
	return rows, err
}

func (q deliveryRows) plainBodies(ctx context.Context, tx *store.Tx, orderIDs []string) ([]plainBody, error) {
	var rows []plainBody
	err := tx.SelectContext(ctx, &rows, statements.For(q.db.Engine).plainBodies, tx.List(orderIDs))
	return rows, err
}

func (q deliveryRows) sealPayload(ctx context.Context, tx *store.Tx, id string, sealed []byte) error {
	_, err := tx.ExecContext(ctx, sqlSealPayload, sealed, id)
	return err
}

func (q deliveryRows) sealBody(ctx context.Context, tx *store.Tx, deliveryID string, attempt int, sealed []byte) error {
	_, err := tx.ExecContext(ctx, sqlSealBody, sealed, deliveryID, attempt)
	return err
}

// beat writes the dispatcher's heartbeat at now, reporting whether its row
// was there.
func (q deliveryRows) beat(ctx context.Context, tx *store.Tx, owner string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, sqlHeartbeat, store.FormatTime(now), owner)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// startBeating creates the dispatcher's heartbeat row and removes those of
// dispatchers whose last beat is older than forgetBefore.
func (q deliveryRows) startBeating(ctx context.Context, tx *store.Tx, owner string, now, forgetBefore time.Time) error {
	if _, err := tx.ExecContext(ctx, sqlHeartbeatStart, owner, store.FormatTime(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, sqlHeartbeatsForget, store.FormatTime(forgetBefore))
	return err
}

func (q deliveryRows) endBeating(ctx context.Context, tx *store.Tx, owner string) error {
	_, err := tx.ExecContext(ctx, sqlHeartbeatEnd, owner)
	return err
}

// noBytes is the empty payload of a delivery with nothing (left) to send:
// bound as a parameter, since the two engines spell an empty byte string
// differently.
var noBytes = []byte{}
