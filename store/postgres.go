package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// postgresDriver is the name PostgreSQL's connections go by in sqlx (its
// own name for jackc/pgx, so that its helpers know the dialect).
const postgresDriver = "pgx"

// postgresConns bounds one process's pool: several processes share the
// server's max_connections (100 by default).
const postgresConns = 16

// openPostgres connects to the PostgreSQL database at the URL dsn.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	shown := RedactURL(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, fmt.Errorf("open database %s: not a valid PostgreSQL URL", shown)
	}
	// No JIT: the service's queries are short, and a plan whose cost is
	// overestimated (a table grown since its last ANALYZE) crossed
	// jit_above_cost and spent 180 ms compiling a 2 ms query. A URL that
	// sets jit keeps its choice.
	if _, set := cfg.RuntimeParams["jit"]; !set {
		cfg.RuntimeParams["jit"] = "off"
	}
	trips := &RoundTrips{}
	pool := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg), trips})
	pool.SetMaxOpenConns(postgresConns)
	// Every connection stays open when idle: a pool that kept half closed
	// and reopened the rest under load, each a new server process, spent
	// more time connecting than querying (seen in the intake benchmark).
	pool.SetMaxIdleConns(postgresConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := sqlx.NewDb(pool, postgresDriver)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	return &DB{Engine: PostgreSQL, Path: shown, Writer: db, Reader: db, Trips: trips, dsn: dsn}, nil
}

// shownParams are the query parameters of a database URL shown as they
// are; any other (password, sslpassword, sslkey, passfile, an option the
// service does not know) is shown as xxxxx, since libpq takes secrets there
// as well as in the userinfo.
var shownParams = map[string]bool{"sslmode": true, "application_name": true, "connect_timeout": true,
	"target_session_attrs": true, "jit": true, "search_path": true, "pool_max_conns": true}

// RedactURL returns a database URL fit for a log line or an error: no
// password, in the userinfo or in the query, and a path that is not a URL
// (a SQLite file) as it is.
func RedactURL(dsn string) string {
	if !IsURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			if !shownParams[strings.ToLower(k)] {
				for i := range vs {
					vs[i] = "xxxxx"
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// RoundTrips counts what a process asks of PostgreSQL: statements
// (each one round trip to the server), transactions begun and committed,
// and connections opened. The metrics and the benchmark's round trips per
// order read them.
type RoundTrips struct {
	Statements, Begins, Commits, Connects atomic.Int64
	// Held, if set, hears how long a transaction held a lock every
	// instance shares (Serialize), from taking it to its end.
	Held func(lock string, d time.Duration)
}

func (t *RoundTrips) held(lock string, d time.Duration) {
	if t.Held != nil {
		t.Held(lock, d)
	}
}

// pgConnector makes the connections of pgConn.
type pgConnector struct {
	driver.Connector
	trips *RoundTrips
}

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.trips.Connects.Add(1)
	return &pgConn{Conn: conn.(*stdlib.Conn), trips: c.trips}, nil
}

// pgConn is a pgx connection that binds a Go bool as the 0/1 integer both
// schemas store flags as, and counts its round trips. Queries reach it as
// written.
type pgConn struct {
	*stdlib.Conn
	trips *RoundTrips
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.trips.Statements.Add(1)
	return c.Conn.ExecContext(ctx, query, args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.trips.Statements.Add(1)
	return c.Conn.QueryContext(ctx, query, args)
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.trips.Begins.Add(1)
	return pgTx{tx, c.trips}, nil
}

// pgTx counts its commit.
type pgTx struct {
	driver.Tx
	trips *RoundTrips
}

func (t pgTx) Commit() error {
	t.trips.Commits.Add(1)
	return t.Tx.Commit()
}

func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
		return nil
	}
	return c.Conn.CheckNamedValue(nv)
}

// Warnings names what an operator should hear about the server the
// database is on: PostgreSQL with autovacuum off keeps every dead row of
// the outbox's updates and plans on statistics that never come (the
// queries are written to need none, but the tables grow without bound).
// SQLite has nothing to say.
func (db *DB) Warnings(ctx context.Context) []string {
	if db.Engine != PostgreSQL {
		return nil
	}
	var on string
	if err := db.Reader.GetContext(ctx, &on, `SELECT current_setting('autovacuum')`); err == nil && on != "on" {
		return []string{"PostgreSQL's autovacuum is off: dead rows of the outbox and the orders accumulate and the planner has no statistics; turn it on (the default), or run VACUUM ANALYZE regularly"}
	}
	return nil
}
