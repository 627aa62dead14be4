package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/milestone/husky/store"
)

// purge_runs and purge_run_orders are retention's tables: a run and the
// orders it erases, with each order's outcome. Their statements are here,
// as methods of runRows; what differs between the engines is in
// statements.go.
const (
	sqlInsertRun = `INSERT INTO purge_runs (id, as_of, actor, status, started_at) VALUES ($1, $2, $3, 'running', $4)`
	sqlGetRun    = `SELECT id, as_of, actor, status, started_at, finished_at, orders, erased, held, notices, requests, digest, error
		FROM purge_runs WHERE id = $1`
	sqlFailRun     = `UPDATE purge_runs SET status = 'failed', error = $1, finished_at = $2 WHERE id = $3`
	sqlAddRunOrder = `INSERT INTO purge_run_orders (run_id, order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	// A running run's counts are kept as it goes, so that reading its
	// progress costs one row, however large the run.
	sqlRunSize     = `UPDATE purge_runs SET orders = (SELECT COUNT(*) FROM purge_run_orders WHERE run_id = $1) WHERE id = $2`
	sqlRunProgress = `UPDATE purge_runs SET erased = erased + $1, held = held + $2, notices = notices + $3 WHERE id = $4`
	sqlUndecided   = `SELECT order_id FROM purge_run_orders WHERE run_id = $1 AND outcome IS NULL ORDER BY order_id LIMIT $2`
	sqlOutcomes    = `SELECT order_id, outcome FROM purge_run_orders WHERE run_id = $1 ORDER BY order_id`
	sqlCompleteRun = `UPDATE purge_runs SET status = 'completed', finished_at = $1, orders = $2, erased = $3, held = $4,
		notices = $5, digest = $6, requests = $7 WHERE id = $8`
	sqlRunningRuns = `SELECT id FROM purge_runs WHERE status = 'running'`
	sqlRunErased   = `SELECT order_id FROM purge_run_orders WHERE run_id = $1 AND outcome = 'erased' ORDER BY order_id`
	sqlLatestRuns  = `SELECT id FROM purge_runs ORDER BY started_at DESC, id DESC LIMIT $1`
)

// runRows reads and writes purge_runs and purge_run_orders.
type runRows struct{ db *store.DB }

// runRow is one row of purge_runs.
type runRow struct {
	ID       string     `db:"id"`
	AsOf     store.Time `db:"as_of"`
	Actor    string     `db:"actor"`
	Status   string     `db:"status"`
	Started  store.Time `db:"started_at"`
	Finished store.Time `db:"finished_at"`
	Orders   int        `db:"orders"`
	Erased   int        `db:"erased"`
	Held     int        `db:"held"`
	Notices  int        `db:"notices"`
	Requests int        `db:"requests"`
	Digest   string     `db:"digest"`
	Error    string     `db:"error"`
}

// runCounts is what a run records as it ends.
type runCounts struct {
	Orders, Erased, Held, Notices, Requests int
	Digest                                  string
}

// insert starts the run id as of asOf; a unique violation means another
// run is running.
func (q runRows) insert(ctx context.Context, tx *store.Tx, id, actor string, asOf time.Time) error {
	_, err := tx.ExecContext(ctx, sqlInsertRun, id, store.FormatTime(asOf), actor, store.FormatTime(asOf))
	return err
}

// get returns the run id, with ok false when there is none.
func (q runRows) get(ctx context.Context, id string) (r runRow, ok bool, err error) {
	if err := q.db.Reader.GetContext(ctx, &r, sqlGetRun, id); err != nil {
		if store.IsNoRows(err) {
			return runRow{}, false, nil
		}
		return runRow{}, false, fmt.Errorf("read purge run: %w", err)
	}
	return r, true, nil
}

// fail records that the run id failed at t, with a message for people.
func (q runRows) fail(ctx context.Context, id, message string, t time.Time) error {
	return q.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, sqlFailRun, message, store.FormatTime(t), id)
		return err
	})
}

// addOrder adds an order to the run's list (once).
func (q runRows) addOrder(ctx context.Context, tx *store.Tx, id, orderID string) error {
	if _, err := tx.ExecContext(ctx, sqlAddRunOrder, id, orderID); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// countOrders records how many orders the run's list holds.
func (q runRows) countOrders(ctx context.Context, id string) error {
	return q.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, sqlRunSize, id, id)
		return err
	})
}

// undecided returns up to n of the run's orders without an outcome yet.
func (q runRows) undecided(ctx context.Context, id string, n int) ([]string, error) {
	var ids []string
	if err := q.db.Reader.SelectContext(ctx, &ids, sqlUndecided, id, n); err != nil {
		return nil, fmt.Errorf("next batch: %w", err)
	}
	return ids, nil
}

// decide records outcome, at t, for those of the run's orders.
func (q runRows) decide(ctx context.Context, tx *store.Tx, id, outcome string, orderIDs []string, t time.Time) error {
	if _, err := tx.ExecContext(ctx, statements.For(tx.Engine()).runOutcome, outcome, store.FormatTime(t), id, tx.List(orderIDs)); err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	return nil
}

// progress adds a batch's counts to the run's.
func (q runRows) progress(ctx context.Context, tx *store.Tx, id string, erased, held, notices int) error {
	if _, err := tx.ExecContext(ctx, sqlRunProgress, erased, held, notices, id); err != nil {
		return fmt.Errorf("record purge progress: %w", err)
	}
	return nil
}

// outcomes returns each of the run's orders with its outcome.
func (q runRows) outcomes(ctx context.Context, id string) (map[string]string, []string, error) {
	var rows []struct {
		OrderID string `db:"order_id"`
		Outcome string `db:"outcome"`
	}
	if err := q.db.Reader.SelectContext(ctx, &rows, sqlOutcomes, id); err != nil {
		return nil, nil, fmt.Errorf("read run orders: %w", err)
	}
	out, order := make(map[string]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		out[r.OrderID], order[i] = r.Outcome, r.OrderID
	}
	return out, order, nil
}

// complete records the run's end at t and its counts.
func (q runRows) complete(ctx context.Context, tx *store.Tx, id string, c runCounts, t time.Time) error {
	if _, err := tx.ExecContext(ctx, sqlCompleteRun, store.FormatTime(t), c.Orders, c.Erased, c.Held, c.Notices, c.Digest, c.Requests, id); err != nil {
		return fmt.Errorf("complete run: %w", err)
	}
	return nil
}

// running returns the runs still running.
func (q runRows) running(ctx context.Context) ([]string, error) {
	var ids []string
	if err := q.db.Reader.SelectContext(ctx, &ids, sqlRunningRuns); err != nil {
		return nil, fmt.Errorf("find interrupted runs: %w", err)
	}
	return ids, nil
}

// erased returns the orders the run erased.
func (q runRows) erased(ctx context.Context, id string) ([]string, error) {
	ids := []string{}
	if err := q.db.Reader.SelectContext(ctx, &ids, sqlRunErased, id); err != nil {
		return nil, fmt.Errorf("read run orders: %w", err)
	}
	return ids, nil
}

// latest returns up to n runs' ids, newest first.
func (q runRows) latest(ctx context.Context, n int) ([]string, error) {
	var ids []string
	if err := q.db.Reader.SelectContext(ctx, &ids, sqlLatestRuns, n); err != nil {
		return nil, fmt.Errorf("list purge runs: %w", err)
	}
	return ids, nil
}
