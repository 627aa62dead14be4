// Package store opens the service's database and gives every package the
// same few things over it: transactions with hooks that run just before
// commit, group commit, multi-row inserts, the stored form of times, and
// the migrations of its engine. The engine is SQLite (a file, the embedded
// default: one writer connection that serialises every write in an
// immediate transaction, and a read-only pool) or PostgreSQL (a
// postgres:// URL: one pool, several processes on one database). Each
// package keeps its statements in its own store files: once, in the SQL
// both engines share, with parameters $1, $2, …; written out for each
// engine where they differ (PerEngine). Nothing rewrites a statement on
// its way to the server.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite     Engine = "sqlite"
	PostgreSQL Engine = "postgres"
)

// DB is the service's database. Writes go through Tx; reads may use
// Reader. On SQLite, Writer has exactly one connection and Reader is a
// read-only pool; on PostgreSQL both are the one pool.
type DB struct {
	Engine Engine
	// Path is the SQLite file, or the PostgreSQL URL without its password.
	Path   string
	Writer *sqlx.DB
	Reader *sqlx.DB
	// Trips counts the round trips to PostgreSQL (nil on SQLite).
	Trips *RoundTrips

	dsn string // as given to Open, password and all
}

// Tx is one write transaction of DB.Tx, with what it carries until it
// ends: the audit entries recorded in it, waiting for its commit, the work
// deferred to just before that commit, and what was read once for all of
// it. Only the goroutine running the transaction uses it.
type Tx struct {
	*sqlx.Tx

	// Audit are the audit entries recorded in the transaction, in order;
	// the audit trail appends them just before it commits.
	Audit []AuditEntry

	engine Engine
	hooks  []commitHook
	// fenced names the lock every instance shares that Serialize took,
	// held since fencedAt until the transaction ends.
	fenced   string
	fencedAt time.Time
	// conn is the PostgreSQL connection the transaction runs on, later
	// the writes queued on it and laterErr the failure of sending them
	// (later.go).
	conn     *sqlx.Conn
	later    []laterWrite
	laterErr error
	read     map[string]any
}

// AuditEntry is an audit entry recorded in a transaction and not yet
// appended to the trail (package audit owns the trail and its rules).
type AuditEntry struct {
	Time     time.Time
	Actor    string
	Action   string
	Subjects map[string]string
	Details  map[string]string
}

// IsURL reports whether dsn names a PostgreSQL server rather than a file.
func IsURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names: a postgres:// or postgresql:// URL, or
// else a SQLite file (created if needed, owner-only).
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsURL(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

type commitHook struct {
	key string
	fn  func(ctx context.Context, tx *Tx) error
}

// BeforeCommit registers fn to run inside tx just before it commits; a
// failing fn rolls tx back. A key already registered is not registered
// again, so work done many times in one transaction (the orders of a group
// commit) can defer a shared step to its end. Hooks of a transaction that
// rolls back never run.
func (tx *Tx) BeforeCommit(key string, fn func(ctx context.Context, tx *Tx) error) {
	for _, h := range tx.hooks {
		if h.key == key {
			return
		}
	}
	tx.hooks = append(tx.hooks, commitHook{key, fn})
}

// Read returns what was read once for the transaction under key, calling
// load the first time: state that work done many times in one transaction
// shares (the partners a group commit reads once).
func Read[T any](tx *Tx, key string, load func() T) T {
	if v, ok := tx.read[key].(T); ok {
		return v
	}
	v := load()
	if tx.read == nil {
		tx.read = map[string]any{}
	}
	tx.read[key] = v
	return v
}

// commit runs tx's BeforeCommit hooks, in the order they were registered
// (one may register another), then commits.
func (tx *Tx) commit(ctx context.Context) error {
	for i := 0; i < len(tx.hooks); i++ {
		if err := tx.hooks[i].fn(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.FlushLater(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	if tx.laterErr != nil {
		return fmt.Errorf("commit transaction: %w", tx.laterErr)
	}
	if err := tx.Tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Ping reports whether the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.Reader.GetContext(ctx, &one, "SELECT 1"); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Tx runs fn inside one immediate write transaction. It commits when fn
// returns nil and rolls back when fn returns an error or panics; the panic is
// re-raised after the rollback. On PostgreSQL, a transaction another one
// deadlocked with is run again (up to three times in all), so fn must only
// write through tx: the server chose it to fail, not the work.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	for try := 1; ; try++ {
		err := db.tx(ctx, fn)
		if try == 3 || !retryable(err) {
			return err
		}
	}
}

// retryable reports whether err is PostgreSQL giving up a transaction for
// another's sake: a deadlock, or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (db *DB) tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	var conn *sqlx.Conn
	if db.Engine == PostgreSQL {
		// A connection of its own, to pipeline writes on (later.go).
		if conn, err = db.Writer.Connx(ctx); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		defer conn.Close()
	}
	var stx *sqlx.Tx
	if conn != nil {
		stx, err = conn.BeginTxx(ctx, nil)
	} else {
		stx, err = db.Writer.BeginTxx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: stx, engine: db.Engine, conn: conn}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
		if tx.fenced != "" && db.Trips != nil {
			db.Trips.held(tx.fenced, time.Since(tx.fencedAt))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// Close closes the database: on SQLite it first checkpoints the
// write-ahead log into the main file. It deliberately does not run PRAGMA
// optimize: statistics gathered on a small table mislead SQLite's planner
// once the outbox holds a large backlog (a scan per claim was measured);
// the queries are written to use their indexes without statistics.
func (db *DB) Close() error {
	if db.Engine == PostgreSQL {
		return db.Writer.Close()
	}
	_, cerr := db.Writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	rerr := db.Reader.Close()
	werr := db.Writer.Close()
	return errors.Join(cerr, rerr, werr)
}

// ErrCheckpointBusy means a reader kept the write-ahead log from being
// fully copied and truncated; try again.
var ErrCheckpointBusy = errors.New("checkpoint wal: a reader is still using the log")

// Checkpoint, on SQLite, copies the write-ahead log into the main file and
// truncates it to zero bytes, so that nothing erased lingers in the log. It
// returns ErrCheckpointBusy when a reader prevented that. PostgreSQL's
// write-ahead log is the server's: there erasure rests on destroyed data
// keys, and Checkpoint does nothing.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.Engine == PostgreSQL {
		return nil
	}
	var busy, logFrames, done int
	if err := db.Writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpoint wal: %w", err)
	}
	if busy != 0 {
		return ErrCheckpointBusy
	}
	return nil
}

// Snapshot begins a read-only transaction that sees one consistent state
// of the whole database, whatever commits meanwhile: SQLite's read
// transactions do; on PostgreSQL it is REPEATABLE READ (each statement of
// a default transaction would see the latest commits). Roll it back when
// done.
func (db *DB) Snapshot(ctx context.Context) (*Tx, error) {
	var opts *sql.TxOptions
	if db.Engine == PostgreSQL {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.Reader.BeginTxx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, engine: db.Engine}, nil
}

// Serialize makes the rest of tx run alone among the transactions that
// serialize on the same name, until it ends. SQLite's single writer
// serialises every transaction already; on PostgreSQL it takes a
// transaction-level advisory lock: the audit trail's integrator, one
// gap-free sequence across processes, takes it as its fence.
func Serialize(ctx context.Context, tx *Tx, name string) error {
	if tx.DriverName() != postgresDriver {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(name)); err != nil {
		return fmt.Errorf("serialize %s: %w", name, err)
	}
	if tx.fenced == "" {
		tx.fenced, tx.fencedAt = name, time.Now()
	}
	return nil
}

// lockKey is the advisory lock number of a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("husky:" + name))
	return int64(h.Sum64())
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure, on either engine.
func IsUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// IsNoRows reports whether err means a query matched no row.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Lease is a lock named across every process on the database, held until
// released or until the process dies: on PostgreSQL a session advisory
// lock on a connection of its own, which the server drops with the
// connection; on SQLite, which one process serves, always granted.
type Lease struct {
	conn *sql.Conn
	key  int64
}

// TryLease takes the lease named name if no process holds it, and returns
// nil (and no error) if one does.
func (db *DB) TryLease(ctx context.Context, name string) (*Lease, error) {
	if db.Engine != PostgreSQL {
		return &Lease{}, nil
	}
	conn, err := db.Writer.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	l := &Lease{conn: conn, key: lockKey(name)}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	if !got {
		conn.Close()
		return nil, nil
	}
	return l, nil
}

// Held reports whether the lease is still this process's: its connection
// still answers.
func (l *Lease) Held(ctx context.Context) bool {
	return l.conn == nil || l.conn.PingContext(ctx) == nil
}

// Release gives the lease up.
func (l *Lease) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	l.conn.Close()
}
