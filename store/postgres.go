package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strconv"
	"strings"
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

// openPostgres connects to the PostgreSQL database at the URL dsn. Its
// connections take the queries as every package writes them (see rewrite).
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
	pool := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	pool.SetMaxOpenConns(postgresConns)
	pool.SetMaxIdleConns(postgresConns / 2)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := sqlx.NewDb(pool, postgresDriver)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	return &DB{Engine: PostgreSQL, Path: shown, Writer: db, Reader: db, dsn: dsn}, nil
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

// pgConnector makes connections that rewrite queries (see pgConn).
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{Conn: conn.(*stdlib.Conn)}, nil
}

// pgConn is a pgx connection that takes a query as the packages write it
// for both engines, and a flag as the Go bool they pass: it numbers the ?
// placeholders ($1, $2, …), drops SQLite's INDEXED BY hints (PostgreSQL's
// planner chooses by statistics), and binds a bool as the 0/1 integer the
// schema stores flags as.
type pgConn struct{ *stdlib.Conn }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rewrite(query)) }

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rewrite(query))
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rewrite(query), args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rewrite(query), args)
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

// rewrite turns a query written for both engines into PostgreSQL's: each ?
// outside a string literal, quoted identifier or comment becomes $1, $2, …
// in order, and "INDEXED BY name" goes. It is not cached: one pass costs
// far less than the round trip, and the queries with expanded IN and
// VALUES lists come in hundreds of lengths each.
func rewrite(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case (c == 'I' || c == 'i') && hasWordAt(q, i, "INDEXED BY"):
			// Skip the hint and the index name after it.
			j := i + len("INDEXED BY")
			for j < len(q) && q[j] == ' ' {
				j++
			}
			for j < len(q) && isIdent(q[j]) {
				j++
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// hasWordAt reports whether q holds word (any case) at i, as whole words.
func hasWordAt(q string, i int, word string) bool {
	if i > 0 && isIdent(q[i-1]) || len(q)-i < len(word) || !strings.EqualFold(q[i:i+len(word)], word) {
		return false
	}
	return i+len(word) == len(q) || !isIdent(q[i+len(word)])
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
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
