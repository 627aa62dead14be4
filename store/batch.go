package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// Groups is how many groups run at once: one on SQLite, whose single
	// writer runs one transaction at a time anyway; on PostgreSQL several,
	// so that one group's statements, each a round trip to the server,
	// overlap with another's (they meet only at the audit trail's append,
	// just before each commits).
	Groups int
}

type batchJob struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
}

// NewBatcher returns a Batcher writing to db. Start it with Run.
func NewBatcher(db *DB) *Batcher {
	groups := 1
	if db.Engine == PostgreSQL {
		groups = postgresGroups
	}
	return &Batcher{db: db, jobs: make(chan *batchJob, 1024), MaxBatch: 64, Groups: groups}
}

// postgresGroups is Batcher.Groups on PostgreSQL: a quarter of the pool,
// leaving the rest to the dispatcher and the readers.
const postgresGroups = postgresConns / 4

// Do runs fn in the next group and returns its error, or the commit's.
// It waits for the commit; ctx bounds only the wait to be scheduled. fn
// may run twice, in two transactions, when another job of its group fails
// (see run): it must only write through tx, or repeat its other effects
// safely.
func (b *Batcher) Do(ctx context.Context, fn func(tx *Tx) error) error {
	b.once.Do(func() {
		for range max(b.Groups, 1) {
			go b.loop()
		}
	})
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

// errJobFailed ends a group's first, savepoint-free try.
var errJobFailed = errors.New("a job of the group failed")

// run executes one group in one transaction. It first runs every job
// without savepoints, which almost always succeeds; if any job fails, that
// transaction is rolled back and the group runs again with each job under
// its own savepoint, so the failing job is rolled back alone. A job may
// therefore run twice, each time in a fresh transaction.
func (b *Batcher) run(group []*batchJob) {
	results := make([]error, len(group))
	for i, j := range group {
		results[i] = j.ctx.Err()
	}
	err := b.db.Tx(context.Background(), func(tx *Tx) error {
		for i, j := range group {
			if results[i] == nil && runPlain(j.ctx, tx, j.fn) != nil {
				return errJobFailed
			}
		}
		// A queued write that fails belongs to some job: which one, the
		// savepoints of the second try find out.
		if tx.FlushLater(context.Background()) != nil {
			return errJobFailed
		}
		return nil
	})
	if errors.Is(err, errJobFailed) {
		err = b.db.Tx(context.Background(), func(tx *Tx) error {
			for i, j := range group {
				if results[i] == nil {
					results[i] = runSavepoint(j.ctx, tx, j.fn)
				}
			}
			return nil
		})
	}
	for i, j := range group {
		if err != nil {
			j.done <- err
		} else {
			j.done <- results[i]
		}
	}
}

// runPlain runs fn; a panic becomes its error.
func runPlain(ctx context.Context, tx *Tx, fn func(tx *Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batched job panicked: %v", p)
		}
	}()
	return fn(tx)
}

// runSavepoint runs fn under a savepoint, rolling back to it when fn fails
// or panics, with the audit entries fn recorded; a panic becomes the job's
// error.
func runSavepoint(ctx context.Context, tx *Tx, fn func(tx *Tx) error) (err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	held := len(tx.Audit)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batched job panicked: %v", p)
		}
		if err == nil {
			// The job's queued writes go inside its savepoint, so that one
			// that fails is the job's failure alone.
			err = tx.FlushLater(ctx)
		}
		if err != nil {
			// The audit entries and queued writes the job recorded roll
			// back with it.
			tx.Audit = tx.Audit[:held]
			tx.dropLater()
			tx.laterErr = nil
			_, _ = tx.ExecContext(context.Background(), "ROLLBACK TO job")
		}
		_, _ = tx.ExecContext(context.Background(), "RELEASE job")
	}()
	return fn(tx)
}
