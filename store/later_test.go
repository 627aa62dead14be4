package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// Queued writes are seen by the transaction's next statement, commit
// with it, and fail it (or its commit) when they fail; a job of a group
// that fails takes its queued writes with it.
func TestLaterWritesMeanWhatTheyWouldMeanAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	if _, err := db.Writer.ExecContext(ctx, `CREATE TABLE later_t (id INTEGER PRIMARY KEY, flag INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	count := func(q interface {
		GetContext(context.Context, any, string, ...any) error
	}) int {
		var n int
		if err := q.GetContext(ctx, &n, `SELECT COUNT(*) FROM later_t`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		for id := range 3 {
			if err := tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, $2)`, id, id == 1); err != nil {
				return err
			}
		}
		if n := count(tx); n != 3 {
			t.Errorf("a read after three queued inserts sees %d rows", n)
		}
		if err := tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, $2)`, 3, true); err != nil {
			return err
		}
		// An UPDATE after a queued insert goes with it and sees it.
		res, err := tx.ExecContext(ctx, `UPDATE later_t SET flag = 0 WHERE flag = $1`, true)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 2 {
			t.Errorf("an update sent with the queue changed %d rows, want 2", n)
		}
		return tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, 0)`, 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(db.Reader); n != 5 {
		t.Fatalf("after commit: %d rows, want 5 (the last queued at commit)", n)
	}

	// A queued write that fails (a duplicate key) fails the commit, and
	// nothing of the transaction stays.
	err = db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, 0)`, 10); err != nil {
			return err
		}
		return tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, 0)`, 0)
	})
	if err == nil || !store.IsUniqueViolation(err) {
		t.Fatalf("a failing queued write: %v", err)
	}
	if n := count(db.Reader); n != 5 {
		t.Fatalf("after a failed transaction: %d rows, want 5", n)
	}

	// In a group commit, the failing job is rolled back alone.
	b := store.NewBatcher(db)
	errs := make(chan error, 3)
	for _, id := range []int{20, 0, 21} {
		go func() {
			errs <- b.Do(ctx, func(tx *store.Tx) error {
				return tx.Later(ctx, `INSERT INTO later_t (id, flag) VALUES ($1, 0)`, id)
			})
		}()
	}
	failed := 0
	for range 3 {
		if err := <-errs; err != nil {
			if !store.IsUniqueViolation(err) && !errors.Is(err, context.Canceled) {
				t.Errorf("job: %v", err)
			}
			failed++
		}
	}
	if failed != 1 || count(db.Reader) != 7 {
		t.Fatalf("group with one failing job: %d failed, %d rows, want 1 and 7", failed, count(db.Reader))
	}
}
