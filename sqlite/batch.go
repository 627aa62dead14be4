package sqlite

import (
	"context"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Batcher commits many small write transactions as one (group commit).
// Each job runs inside its own SAVEPOINT of a shared transaction, so a job
// that fails is rolled back alone; the transaction commits once for the
// whole group, and every job learns its outcome only after that commit, so
// an acknowledgement still means durable. Under load this turns one fsync
// per request into one per group.
type Batcher struct {
	db   *DB
	jobs chan *batchJob
	once sync.Once
	// MaxBatch bounds a group; default 64.
	MaxBatch int
}

type batchJob struct {
	ctx  context.Context
	fn   func(tx *sqlx.Tx) error
	done chan error
}

// NewBatcher returns a Batcher writing to db. Start it with Run.
func NewBatcher(db *DB) *Batcher {
	return &Batcher{db: db, jobs: make(chan *batchJob, 1024), MaxBatch: 64}
}

// Do runs fn in the next group and returns its error, or the commit's.
// It waits for the commit; ctx bounds only the wait to be scheduled.
func (b *Batcher) Do(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	b.once.Do(func() { go b.loop() })
	j := &batchJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

func (b *Batcher) loop() {
	for j := range b.jobs {
		group := []*batchJob{j}
	fill:
		for len(group) < b.MaxBatch {
			select {
			case j2 := <-b.jobs:
				group = append(group, j2)
			default:
				break fill
			}
		}
		b.run(group)
	}
}

// run executes one group in one transaction.
func (b *Batcher) run(group []*batchJob) {
	results := make([]error, len(group))
	err := b.db.Tx(context.Background(), func(tx *sqlx.Tx) error {
		for i, j := range group {
			if j.ctx.Err() != nil {
				results[i] = j.ctx.Err()
				continue
			}
			results[i] = runSavepoint(j.ctx, tx, j.fn)
		}
		return nil
	})
	for i, j := range group {
		if err != nil {
			j.done <- err
		} else {
			j.done <- results[i]
		}
	}
}

// runSavepoint runs fn under a savepoint, rolling back to it when fn fails
// or panics; a panic becomes the job's error.
func runSavepoint(ctx context.Context, tx *sqlx.Tx, fn func(tx *sqlx.Tx) error) (err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batched job panicked: %v", p)
		}
		if err != nil {
			_, _ = tx.ExecContext(context.Background(), "ROLLBACK TO job")
		}
		_, _ = tx.ExecContext(context.Background(), "RELEASE job")
	}()
	return fn(tx)
}
