package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

func TestTxCommitsRollsBackAndSurvivesPanic(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	insert := func(tx *store.Tx, id string) error {
		_, err := tx.Exec(`INSERT INTO partners (id, kind, name, created_at) VALUES ($1, 'reseller', 'x', '2026-01-01T00:00:00.000000Z')`, id)
		return err
	}
	if err := db.Tx(ctx, func(tx *store.Tx) error { return insert(tx, "committed") }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := db.Tx(ctx, func(tx *store.Tx) error { insert(tx, "rolled_back"); return boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed")
			}
		}()
		db.Tx(ctx, func(tx *store.Tx) error { insert(tx, "panicked"); panic("boom") })
	}()
	var ids []string
	if err := db.Reader.Select(&ids, `SELECT id FROM partners ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != "committed" {
		t.Errorf("rows %v, want only the committed one", ids)
	}
	// The writer is usable after a panic: its transaction was rolled back.
	if err := db.Tx(ctx, func(tx *store.Tx) error { return insert(tx, "after") }); err != nil {
		t.Errorf("writer stuck after panic: %v", err)
	}
}

func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	storetest.SQLiteOnly(t, "the settings of SQLite's connections")
	db := storetest.Open(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "secure_delete": "1", "synchronous": "2", "temp_store": "2"} {
		var got string
		if err := db.Writer.Get(&got, "PRAGMA "+pragma); err != nil || got != want {
			t.Errorf("writer %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	if _, err := db.Reader.Exec(`INSERT INTO partners (id, kind, name, created_at) VALUES ('x', 'reseller', 'x', 'x')`); err == nil {
		t.Error("the read pool accepted a write")
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestBatcherIsolatesFailingJobsAndCommitsTheRest(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	b := store.NewBatcher(db)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Do(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(`INSERT INTO partners (id, kind, name, created_at) VALUES ($1, 'reseller', 'x', 'x')`, fmt.Sprint("p", i)); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errors.New("refused")
				case 7:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var n int
	if err := db.Reader.Get(&n, `SELECT COUNT(*) FROM partners`); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 8 || n != 32 {
		t.Errorf("%d failed, %d rows; want 8 failed jobs rolled back alone and 32 rows", failed, n)
	}
}

func TestBeforeCommitRunsOncePerKeyAndRollsBackOnError(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	if _, err := db.Writer.Exec(`CREATE TABLE hooked (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := db.Reader.Get(&n, `SELECT COUNT(*) FROM hooked`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO hooked (n) VALUES (1)`)
		return err
	}
	// Registered three times under one key: runs once, inside the transaction.
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		for range 3 {
			tx.BeforeCommit("k", insert)
		}
		return nil
	}); err != nil || count() != 1 {
		t.Fatalf("err %v, hook rows %d, want 1", err, count())
	}
	// A transaction that fails drops its hooks; a failing hook rolls back.
	errFail := errors.New("fail")
	if err := db.Tx(ctx, func(tx *store.Tx) error { tx.BeforeCommit("k", insert); return errFail }); !errors.Is(err, errFail) {
		t.Fatal(err)
	}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		if err := insert(ctx, tx); err != nil {
			return err
		}
		tx.BeforeCommit("k", func(context.Context, *store.Tx) error { return errFail })
		return nil
	})
	if !errors.Is(err, errFail) || count() != 1 {
		t.Fatalf("err %v, rows %d, want the failing hook to roll back and 1 row", err, count())
	}
}

func TestInsertRowsWritesEveryRowInChunks(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	if _, err := db.Writer.Exec(`CREATE TABLE many (a INTEGER, b TEXT, c INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var args []any
	for i := range 250 { // more than one statement's worth
		args = append(args, i, fmt.Sprint("row", i), i*2)
	}
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		return store.InsertRows(ctx, tx, `INSERT INTO many (a, b, c) VALUES ($1, $2, $3)`, 3, args)
	}); err != nil {
		t.Fatal(err)
	}
	var n, sum int
	if err := db.Reader.QueryRow(`SELECT COUNT(*), SUM(c) FROM many WHERE b = 'row' || a`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 250 || sum != 249*250 {
		t.Errorf("%d rows with sum %d, want 250 rows with sum %d", n, sum, 249*250)
	}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		return store.InsertRows(ctx, tx, `INSERT INTO many (a, b, c) VALUES ($1, $2, $3)`, 3, args[:4])
	})
	if err == nil {
		t.Error("arguments that do not make whole rows were accepted")
	}
}

// TestPostgresSessionSettings: PostgreSQL sessions run without JIT, and
// Warnings speaks up exactly when the server's autovacuum is off (it is
// off on the project's machine kind; on by default elsewhere).
func TestPostgresSessionSettings(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	ctx := context.Background()
	if db.Engine != store.PostgreSQL {
		if w := db.Warnings(ctx); len(w) != 0 {
			t.Errorf("SQLite warnings: %v", w)
		}
		t.Skip("the rest is PostgreSQL's")
	}
	var jit, autovacuum string
	if err := db.Reader.Get(&jit, `SELECT current_setting('jit')`); err != nil || jit != "off" {
		t.Errorf("jit = %q (%v), want off", jit, err)
	}
	if err := db.Reader.Get(&autovacuum, `SELECT current_setting('autovacuum')`); err != nil {
		t.Fatal(err)
	}
	w := db.Warnings(ctx)
	if (autovacuum == "off") != (len(w) == 1) {
		t.Errorf("autovacuum %s, warnings %v", autovacuum, w)
	}
}
