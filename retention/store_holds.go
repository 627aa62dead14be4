package retention

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// legal_holds is retention's table: an order's hold, its reason sealed
// with the order's data key. Its statements are here, as methods of
// holdRows; what differs between the engines is in statements.go.
const (
	sqlPutHold = `INSERT INTO legal_holds (order_id, reason, placed_at) VALUES ($1, $2, $3)
		ON CONFLICT (order_id) DO UPDATE SET reason = excluded.reason, placed_at = excluded.placed_at`
	sqlDeleteHold  = `DELETE FROM legal_holds WHERE order_id = $1`
	sqlGetHold     = `SELECT reason, placed_at FROM legal_holds WHERE order_id = $1`
	sqlHeldOrders  = `SELECT order_id FROM legal_holds ORDER BY order_id`
	sqlHoldReasons = `SELECT order_id, reason FROM legal_holds`
	sqlSetReason   = `UPDATE legal_holds SET reason = $1 WHERE order_id = $2`
)

// holdRows reads and writes legal_holds.
type holdRows struct{ db *store.DB }

// holdRow is one row of legal_holds.
type holdRow struct {
	OrderID  string     `db:"order_id"`
	Reason   []byte     `db:"reason"` // sealed, or plain text from before the vault
	PlacedAt store.Time `db:"placed_at"`
}

// put places the order's hold, or replaces its reason.
func (q holdRows) put(ctx context.Context, tx *store.Tx, orderID string, reason []byte, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlPutHold, orderID, reason, store.FormatTime(at))
	return err
}

// remove lifts the order's hold.
func (q holdRows) remove(ctx context.Context, tx *store.Tx, orderID string) error {
	_, err := tx.ExecContext(ctx, sqlDeleteHold, orderID)
	return err
}

// get returns the order's hold through r (a transaction or the read
// pool), with ok false when it has none.
func (q holdRows) get(ctx context.Context, r sqlx.QueryerContext, orderID string) (row holdRow, ok bool, err error) {
	row.OrderID = orderID
	err = sqlx.GetContext(ctx, r, &row, sqlGetHold, orderID)
	if store.IsNoRows(err) {
		return holdRow{}, false, nil
	}
	if err != nil {
		return holdRow{}, false, fmt.Errorf("read legal hold: %w", err)
	}
	return row, true, nil
}

// among returns which of the orders are held, through r.
func (q holdRows) among(ctx context.Context, r sqlx.QueryerContext, orderIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	for part := range slices.Chunk(orderIDs, 500) {
		var ids []string
		if err := sqlx.SelectContext(ctx, r, &ids, statements.For(q.db.Engine).heldAmong, q.db.List(part)); err != nil {
			return nil, fmt.Errorf("legal holds: %w", err)
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

// held returns every held order's id.
func (q holdRows) held(ctx context.Context) ([]string, error) {
	var ids []string
	if err := q.db.Reader.SelectContext(ctx, &ids, sqlHeldOrders); err != nil {
		return nil, fmt.Errorf("legal holds: %w", err)
	}
	return ids, nil
}

// reasons returns every hold's order and reason.
func (q holdRows) reasons(ctx context.Context) ([]holdRow, error) {
	var rows []holdRow
	if err := q.db.Reader.SelectContext(ctx, &rows, sqlHoldReasons); err != nil {
		return nil, fmt.Errorf("legal holds: %w", err)
	}
	return rows, nil
}

// setReason replaces the order's hold's reason (sealing an old one).
func (q holdRows) setReason(ctx context.Context, tx *store.Tx, orderID string, reason []byte) error {
	if _, err := tx.ExecContext(ctx, sqlSetReason, reason, orderID); err != nil {
		return fmt.Errorf("seal legal hold: %w", err)
	}
	return nil
}
