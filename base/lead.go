package base

import (
	"context"
	"log/slog"
	"time"

	"github.com/milestone/husky/store"
)

// Several `husky serve` processes on one PostgreSQL database share the
// work: every one takes orders and delivers, and exactly one at a time,
// the leader, runs what must run once: the daily purge (and any a crash
// interrupted or whose instance died), key rotation and pruning, audit
// checkpoints, and housekeeping. Leadership is a lease on the database (a
// session advisory lock), which the server drops with a dead process's
// connection; the others try for it every LeaderRetry. On SQLite, one
// process serves and always leads.
const (
	LeaderRetry = 2 * time.Second // how often a follower tries for the lease
	LeaderCheck = 2 * time.Second // how often the leader checks it still holds it
)

// Lead runs work for as long as this process holds the leader lease on db,
// trying for it again whenever it does not, until ctx ends. work must
// return once its context ends.
func Lead(ctx context.Context, db *store.DB, logger *slog.Logger, work func(context.Context)) {
	for ctx.Err() == nil {
		lease, err := db.TryLease(ctx, "leader")
		if err != nil && ctx.Err() == nil {
			logger.Error("leader lease", "error", err.Error())
		}
		if lease != nil {
			logger.Info("leading: purges, key rotation, audit checkpoints and housekeeping run in this process")
			lctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); work(lctx) }()
			t := time.NewTicker(LeaderCheck)
			for held := true; held; {
				select {
				case <-done:
					held = false
				case <-t.C:
					if !lease.Held(ctx) && ctx.Err() == nil {
						logger.Error("leader lease lost: another process takes over")
						held = false
					}
				}
			}
			t.Stop()
			stop()
			<-done
			lease.Release()
		}
		select {
		case <-ctx.Done():
		case <-time.After(LeaderRetry):
		}
	}
}
