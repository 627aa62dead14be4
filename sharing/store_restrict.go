package sharing

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The statements of restrictions (restricted_orders, restricted_subjects)
// and of the deliveries they hold, as methods of deliveryRows.
const (
	sqlRestrictSubject = `INSERT INTO restricted_subjects (hash, request_id, since, lookup_version) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
	// A new order held for review that the DPO includes becomes one the
	// restriction stands for.
	sqlRestrictOrder = `INSERT INTO restricted_orders (order_id, request_id, since, kind) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_id, request_id) DO UPDATE SET kind = excluded.kind
		WHERE restricted_orders.kind = 'new_order' AND excluded.kind = 'restriction'`
	// An erasure retained under a request that had restricted the order
	// already (an objection) turns that restriction into one no lift ends.
	sqlRetainOrder = `INSERT INTO restricted_orders (order_id, request_id, since, kind) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_id, request_id) DO UPDATE SET kind = excluded.kind`
	sqlRestrictingRequests = `SELECT DISTINCT request_id FROM restricted_orders WHERE order_id = $1 ORDER BY request_id`
	sqlRestrictedBy        = `SELECT order_id, kind FROM restricted_orders WHERE request_id = $1 ORDER BY order_id`
	sqlRetainedBy          = `SELECT COUNT(*) FROM restricted_orders WHERE request_id = $1 AND kind = 'retained_erasure'`
	sqlLiftOrders          = `DELETE FROM restricted_orders WHERE request_id = $1 AND kind != 'retained_erasure'`
	sqlLiftOrder           = `DELETE FROM restricted_orders WHERE request_id = $1 AND order_id = $2 AND kind != 'retained_erasure'`
	sqlLiftSubjects        = `DELETE FROM restricted_subjects WHERE request_id = $1`
	sqlBindingHashes       = `SELECT hash FROM restricted_subjects WHERE request_id = $1`
	sqlBindingsToRehash    = `SELECT hash, request_id, since FROM restricted_subjects WHERE lookup_version != $1`
	sqlUnbindHash          = `DELETE FROM restricted_subjects WHERE hash = $1 AND request_id = $2`
	sqlBindingVersions     = `SELECT DISTINCT lookup_version FROM restricted_subjects`
)

// bindHash binds the request's restriction to a keyed hash, made under
// lookup key version, from since.
func (q deliveryRows) bindHash(ctx context.Context, tx *store.Tx, requestID string, hash []byte, version uint32, since time.Time) error {
	_, err := tx.ExecContext(ctx, sqlRestrictSubject, hash, requestID, store.FormatTime(since), version)
	return err
}

// unbindHash removes the request's binding to a hash.
func (q deliveryRows) unbindHash(ctx context.Context, tx *store.Tx, requestID string, hash []byte) error {
	_, err := tx.ExecContext(ctx, sqlUnbindHash, hash, requestID)
	return err
}

// restrictOrderParams restricts an order under a request as Kind.
type restrictOrderParams struct {
	OrderID, RequestID string
	Since              time.Time
	Kind               RestrictionKind
}

func (q deliveryRows) restrictOrder(ctx context.Context, tx *store.Tx, p restrictOrderParams) error {
	stmt := sqlRestrictOrder
	if p.Kind == KindRetainedErasure {
		stmt = sqlRetainOrder
	}
	_, err := tx.ExecContext(ctx, stmt, p.OrderID, p.RequestID, store.FormatTime(p.Since), string(p.Kind))
	return err
}

type restrictedRow struct {
	OrderID string          `db:"order_id"`
	Kind    RestrictionKind `db:"kind"`
}

// restrictedBy returns the orders the request restricts, and as what.
func (q deliveryRows) restrictedBy(ctx context.Context, r sqlx.QueryerContext, requestID string) ([]restrictedRow, error) {
	var rows []restrictedRow
	err := sqlx.SelectContext(ctx, r, &rows, sqlRestrictedBy, requestID)
	return rows, err
}

// restrictingRequests returns the requests restricting the order.
func (q deliveryRows) restrictingRequests(ctx context.Context, tx *store.Tx, orderID string) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, sqlRestrictingRequests, orderID)
	return ids, err
}

// requestsBinding returns the requests bound to one of the hashes.
func (q deliveryRows) requestsBinding(ctx context.Context, tx *store.Tx, hashes [][]byte) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, statements.For(q.db.Engine).restrictedBy, tx.List(hashes))
	return ids, err
}

// retainedCount counts the erasures the request retains.
func (q deliveryRows) retainedCount(ctx context.Context, tx *store.Tx, requestID string) (int, error) {
	var n int
	err := tx.GetContext(ctx, &n, sqlRetainedBy, requestID)
	return n, err
}

// liftAll lifts every restriction of the request but a retained erasure,
// and its bindings; liftOrder lifts its restriction of one order.
func (q deliveryRows) liftAll(ctx context.Context, tx *store.Tx, requestID string) error {
	for _, stmt := range []string{sqlLiftOrders, sqlLiftSubjects} {
		if _, err := tx.ExecContext(ctx, stmt, requestID); err != nil {
			return err
		}
	}
	return nil
}

func (q deliveryRows) liftOrder(ctx context.Context, tx *store.Tx, requestID, orderID string) error {
	_, err := tx.ExecContext(ctx, sqlLiftOrder, requestID, orderID)
	return err
}

// bindingHashes returns the hashes the request is bound to.
func (q deliveryRows) bindingHashes(ctx context.Context, r sqlx.QueryerContext, requestID string) ([][]byte, error) {
	var out [][]byte
	err := sqlx.SelectContext(ctx, r, &out, sqlBindingHashes, requestID)
	return out, err
}

type bindingRow struct {
	Hash      []byte     `db:"hash"`
	RequestID string     `db:"request_id"`
	Since     store.Time `db:"since"`
}

// bindingsToRehash returns the bindings made under another lookup key than
// version.
func (q deliveryRows) bindingsToRehash(ctx context.Context, tx *store.Tx, version uint32) ([]bindingRow, error) {
	var rows []bindingRow
	err := tx.SelectContext(ctx, &rows, sqlBindingsToRehash, version)
	return rows, err
}

// bindingVersions returns the lookup key versions of every binding.
func (q deliveryRows) bindingVersions(ctx context.Context) ([]uint32, error) {
	var vs []uint32
	err := q.db.Reader.SelectContext(ctx, &vs, sqlBindingVersions)
	return vs, err
}

// holdPending holds the orders' pending personal deliveries.
func (q deliveryRows) holdPending(ctx context.Context, tx *store.Tx, orderIDs []string) error {
	_, err := tx.ExecContext(ctx, statements.For(q.db.Engine).holdPending, tx.List(orderIDs))
	return err
}

// releaseHeld releases the orders' held deliveries that no other
// restriction holds.
func (q deliveryRows) releaseHeld(ctx context.Context, tx *store.Tx, orderIDs []string) error {
	_, err := tx.ExecContext(ctx, statements.For(q.db.Engine).releaseHeld, tx.List(orderIDs))
	return err
}
