package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// sealed_secrets is this package's table: the keyring and the audit
// signing key, each sealed by the root key. Its statements are here, as
// methods of secretRows; they are one text on both engines.
const (
	sqlGetSecret = `SELECT sealed, root_version FROM sealed_secrets WHERE name = $1`
	sqlPutSecret = `INSERT INTO sealed_secrets (name, sealed, root_version, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, root_version = excluded.root_version, updated_at = excluded.updated_at`
	sqlSecretNames = `SELECT name, root_version FROM sealed_secrets ORDER BY name`
)

// secretRows reads and writes sealed_secrets.
type secretRows struct{}

// secretRow is one row of sealed_secrets.
type secretRow struct {
	Sealed      []byte `db:"sealed"`
	RootVersion uint32 `db:"root_version"`
}

// get returns the secret name through r (a transaction or the read pool),
// with ok false when the database holds none.
func (secretRows) get(ctx context.Context, r sqlx.QueryerContext, name string) (row secretRow, ok bool, err error) {
	err = sqlx.GetContext(ctx, r, &row, sqlGetSecret, name)
	if store.IsNoRows(err) {
		return secretRow{}, false, nil
	}
	if err != nil {
		return secretRow{}, false, fmt.Errorf("read sealed secret %s: %w", name, err)
	}
	return row, true, nil
}

// put stores the secret name, sealed by root key version rootVersion.
func (secretRows) put(ctx context.Context, tx *store.Tx, name string, sealed []byte, rootVersion uint32, at time.Time) error {
	if _, err := tx.ExecContext(ctx, sqlPutSecret, name, sealed, rootVersion, store.FormatTime(at)); err != nil {
		return fmt.Errorf("store sealed secret %s: %w", name, err)
	}
	return nil
}

// versions returns the root key version that seals each secret held.
func (secretRows) versions(ctx context.Context, r sqlx.QueryerContext) (map[string]uint32, error) {
	var rows []struct {
		Name        string `db:"name"`
		RootVersion uint32 `db:"root_version"`
	}
	if err := sqlx.SelectContext(ctx, r, &rows, sqlSecretNames); err != nil {
		return nil, fmt.Errorf("read sealed secrets: %w", err)
	}
	out := make(map[string]uint32, len(rows))
	for _, row := range rows {
		out[row.Name] = row.RootVersion
	}
	return out, nil
}
