package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
)

// Writes that nothing waits for (pipelining). Each statement is a round
// trip to PostgreSQL, and an order's intake writes half a dozen rows whose
// outcome only its commit needs: its items, its data key, its timeline
// entry, its deliveries, its audit entries. Later queues such a write;
// the queue goes to the server in one round trip (a pgx batch) with the
// transaction's next statement, or just before it commits. Every other
// statement of the transaction sends the queue first, so whatever it
// reads or changes sees the queued rows: the transaction means what it
// would mean without the queue. A queued write that fails fails the
// statement it went with, or the commit. On SQLite, in the process,
// there is no round trip to save, and Later runs the write at once.

// laterWrite is a queued statement.
type laterWrite struct {
	query string
	args  []any
}

// Later runs an INSERT, UPDATE or DELETE whose outcome the transaction
// does not look at, now or together with the statement after it.
func (tx *Tx) Later(ctx context.Context, query string, args ...any) error {
	if tx.conn == nil {
		_, err := tx.Tx.ExecContext(ctx, query, args...)
		return err
	}
	tx.later = append(tx.later, laterWrite{query, args})
	return nil
}

// sendLater sends the queued writes, with one more statement to execute
// last when query is not empty, in one round trip; it returns that
// statement's outcome.
func (tx *Tx) sendLater(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ws := tx.later
	tx.later = nil
	if query != "" {
		ws = append(ws, laterWrite{query, args})
	}
	var res tagResult
	err := tx.conn.Raw(func(dc any) error {
		c, ok := dc.(*pgConn)
		if !ok {
			return fmt.Errorf("later writes: not a PostgreSQL connection (%T)", dc)
		}
		b := &pgx.Batch{}
		for _, w := range ws {
			b.Queue(w.query, pgArgs(w.args)...)
		}
		c.trips.Statements.Add(1)
		br := c.Conn.Conn().SendBatch(ctx, b)
		var err error
		for range ws {
			if res.tag, err = br.Exec(); err != nil {
				break
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		// The transaction is aborted on the server: its commit must fail
		// with what went wrong, whoever looks at this error.
		tx.laterErr = err
		return nil, err
	}
	return res, nil
}

// tagResult is a pipelined statement's outcome.
type tagResult struct{ tag pgconn.CommandTag }

func (r tagResult) LastInsertId() (int64, error) {
	return 0, fmt.Errorf("PostgreSQL has no last insert id; use RETURNING")
}

func (r tagResult) RowsAffected() (int64, error) { return r.tag.RowsAffected(), nil }

// dropLater forgets the queued writes (the work that queued them is
// rolled back).
func (tx *Tx) dropLater() { tx.later = nil }

// FlushLater sends the queued writes now.
func (tx *Tx) FlushLater(ctx context.Context) error {
	if len(tx.later) == 0 {
		return nil
	}
	_, err := tx.sendLater(ctx, "")
	return err
}

// pgArgs binds arguments as the connection's CheckNamedValue would: a Go
// bool as the 0/1 integer the schemas store flags as.
func pgArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.(bool); ok {
			a = int64(0)
			if b {
				a = int64(1)
			}
		}
		out[i] = a
	}
	return out
}

// The statements of a transaction send the queue first.

func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if len(tx.later) == 0 {
		return tx.Tx.ExecContext(ctx, query, args...)
	}
	return tx.sendLater(ctx, query, args...)
}

func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := tx.FlushLater(ctx); err != nil {
		return nil, err
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	_ = tx.FlushLater(ctx) // as QueryRowxContext
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

func (tx *Tx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if err := tx.FlushLater(ctx); err != nil {
		return nil, err
	}
	return tx.Tx.QueryxContext(ctx, query, args...)
}

func (tx *Tx) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	// A failed flush leaves the transaction aborted: the query then fails
	// too, and the commit returns the flush's error.
	_ = tx.FlushLater(ctx)
	return tx.Tx.QueryRowxContext(ctx, query, args...)
}

func (tx *Tx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if err := tx.FlushLater(ctx); err != nil {
		return err
	}
	return tx.Tx.GetContext(ctx, dest, query, args...)
}

func (tx *Tx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if err := tx.FlushLater(ctx); err != nil {
		return err
	}
	return tx.Tx.SelectContext(ctx, dest, query, args...)
}

func (tx *Tx) PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if err := tx.FlushLater(ctx); err != nil {
		return nil, err
	}
	return tx.Tx.PreparexContext(ctx, query)
}
