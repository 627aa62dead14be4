// Package storetest gives tests a real, migrated database of their own,
// with the same code and settings as production: a SQLite file in the
// test's temporary directory, or, in the PostgreSQL half of the suite, a
// database the test creates on the server HUSKY_TEST_POSTGRES names and
// drops at cleanup.
//
// The suite runs twice (make test): once on SQLite, and once with
// HUSKY_TEST_ENGINE=postgres, when HUSKY_TEST_POSTGRES is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the server's admin connection

	"github.com/milestone/husky/store"
)

// Engine is the engine this run of the suite tests.
func Engine() store.Engine {
	if os.Getenv("HUSKY_TEST_ENGINE") == string(store.PostgreSQL) {
		return store.PostgreSQL
	}
	return store.SQLite
}

// SQLiteOnly skips t in the PostgreSQL half: it tests what only SQLite
// has (its files on disk, their modes, their backups).
func SQLiteOnly(t testing.TB, why string) {
	t.Helper()
	if Engine() == store.PostgreSQL {
		t.Skip("SQLite only: " + why)
	}
}

// DSN returns a new, empty database for t: a file path, or a PostgreSQL
// URL of a database created for t and dropped when it ends.
func DSN(t testing.TB) string {
	t.Helper()
	if Engine() == store.SQLite {
		return filepath.Join(t.TempDir(), "husky.db")
	}
	admin := os.Getenv("HUSKY_TEST_POSTGRES")
	if admin == "" {
		t.Fatal("HUSKY_TEST_ENGINE=postgres needs HUSKY_TEST_POSTGRES, a PostgreSQL URL to create test databases with")
	}
	dsn, drop, err := CreatePostgres(admin, "husky_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// CreatePostgres creates an empty database, named prefix and random hex,
// on the PostgreSQL server admin names, and returns its URL and a func
// that drops it (closing whatever is still connected). The benchmarks use
// it too, for a database per scenario.
func CreatePostgres(admin, prefix string) (dsn string, drop func() error, err error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("not a PostgreSQL URL: %w", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() error {
		defer db.Close()
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// Open returns a migrated database for t, closed at cleanup.
func Open(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
