package retention

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sqlite"
)

// EnsureCalendar recomputes every closed order's fiscal year and purge date
// when the configured calendar differs from the one they were computed with
// (first start, or a change of HUSKY_FISCAL_* or HUSKY_RETENTION_YEARS). It
// returns how many orders were recomputed.
func EnsureCalendar(ctx context.Context, db *sqlite.DB, cal Calendar, os *orders.Service) (int, error) {
	var stored string
	err := db.Reader.GetContext(ctx, &stored, `SELECT value FROM settings WHERE name = 'fiscal_calendar'`)
	if err != nil && !sqlite.IsNoRows(err) {
		return 0, fmt.Errorf("read fiscal calendar: %w", err)
	}
	if stored == cal.String() {
		return 0, nil
	}
	n, err := os.RecomputeRetention(ctx)
	if err != nil {
		return n, err
	}
	return n, db.Tx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('fiscal_calendar', ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, cal.String())
		return err
	})
}
