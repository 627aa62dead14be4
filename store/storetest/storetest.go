// Package sqlitetest opens a real, migrated database in a test's temporary
// directory, with the same code and settings as production.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/milestone/husky/store"
)

// Open returns a migrated database file in t.TempDir(), closed at cleanup.
func Open(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "husky.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
