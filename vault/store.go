package vault

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// data_keys is the vault's table. Its statements are here, as methods of
// keyRows.
const (
	sqlInsertKey = `INSERT INTO data_keys (order_id, version, wrapped) VALUES ($1, $2, $3)`
	sqlVersions  = `SELECT version, COUNT(*) AS n FROM data_keys GROUP BY version`
	sqlRewrap    = `UPDATE data_keys SET version = $1, wrapped = $2 WHERE order_id = $3 AND version = $4`
	sqlKeysAfter = `SELECT order_id, version, wrapped FROM data_keys WHERE order_id > $1 ORDER BY order_id LIMIT $2`
)

// queries are the vault's statements that differ between the engines.
type queries struct {
	getKeys string // the keys of the orders $1 (a list)
	destroy string // the keys of the orders $1 (a list)
	stale   string // up to $2 keys wrapped by another master key version than $1
}

var statements = store.PerEngine[queries]{
	SQLite: queries{
		getKeys: `SELECT order_id, version, wrapped FROM data_keys WHERE order_id IN (SELECT value FROM json_each($1))`,
		destroy: `DELETE FROM data_keys WHERE order_id IN (SELECT value FROM json_each($1))`,
		stale:   `SELECT order_id, version, wrapped FROM data_keys INDEXED BY data_keys_version WHERE version != $1 LIMIT $2`,
	},
	PostgreSQL: queries{
		getKeys: `SELECT order_id, version, wrapped FROM data_keys WHERE order_id = ANY($1)`,
		destroy: `DELETE FROM data_keys WHERE order_id = ANY($1)`,
		stale:   `SELECT order_id, version, wrapped FROM data_keys WHERE version != $1 LIMIT $2`,
	},
}

// keyRows reads and writes data_keys. Reads take r, a transaction or the
// read pool; writes take the transaction.
type keyRows struct{ db *store.DB }

// keyRow is one order's data key, wrapped by master key Version.
type keyRow struct {
	OrderID string `db:"order_id"`
	Version uint32 `db:"version"`
	Wrapped []byte `db:"wrapped"`
}

func (q keyRows) insert(ctx context.Context, tx *store.Tx, k keyRow) error {
	return tx.Later(ctx, sqlInsertKey, k.OrderID, k.Version, k.Wrapped)
}

// get returns the keys of those of the orders that have one.
func (q keyRows) get(ctx context.Context, r sqlx.QueryerContext, orderIDs []string) ([]keyRow, error) {
	var rows []keyRow
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).getKeys, q.db.List(orderIDs))
	return rows, err
}

// after returns up to limit keys of the orders after the id after, in
// order.
func (q keyRows) after(ctx context.Context, r sqlx.QueryerContext, after string, limit int) ([]keyRow, error) {
	var rows []keyRow
	err := sqlx.SelectContext(ctx, r, &rows, sqlKeysAfter, after, limit)
	return rows, err
}

func (q keyRows) destroy(ctx context.Context, tx *store.Tx, orderIDs []string) error {
	_, err := tx.ExecContext(ctx, statements.For(q.db.Engine).destroy, tx.List(orderIDs))
	return err
}

type versionCount struct {
	Version uint32 `db:"version"`
	N       int    `db:"n"`
}

// versions counts the keys wrapped by each master key version.
func (q keyRows) versions(ctx context.Context, r sqlx.QueryerContext) ([]versionCount, error) {
	var rows []versionCount
	err := sqlx.SelectContext(ctx, r, &rows, sqlVersions)
	return rows, err
}

// stale returns up to limit keys wrapped by another version than current.
func (q keyRows) stale(ctx context.Context, current uint32, limit int) ([]keyRow, error) {
	var rows []keyRow
	err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).stale, current, limit)
	return rows, err
}

// rewrap replaces a key wrapped by k.Version with wrapped, by version
// current, reporting whether the key was still there.
func (q keyRows) rewrap(ctx context.Context, tx *store.Tx, k keyRow, current uint32, wrapped []byte) (bool, error) {
	res, err := tx.ExecContext(ctx, sqlRewrap, current, wrapped, k.OrderID, k.Version)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
