package main

import (
	"context"
	"sync"
	"time"
)

// Several `husky serve` processes on one PostgreSQL database share the
// work: every one takes orders and delivers, and exactly one at a time,
// the leader, runs what must run once: the daily purge (and any a crash
// interrupted or whose instance died), key rotation and pruning, audit checkpoints, and
// housekeeping. Leadership is a lease on the database (a session advisory
// lock), which the server drops with a dead process's connection; the
// others try for it every leaderRetry. On SQLite, one process serves and
// always leads.
const (
	leaderRetry = 2 * time.Second // how often a follower tries for the lease
	leaderCheck = 2 * time.Second // how often the leader checks it still holds it
)

// leadership runs work for as long as this process holds the leader lease,
// trying for it again whenever it does not, until ctx ends.
func (a *App) leadership(ctx context.Context, work func(context.Context)) {
	for ctx.Err() == nil {
		lease, err := a.DB.TryLease(ctx, "leader")
		if err != nil && ctx.Err() == nil {
			a.Logger.Error("leader lease", "error", err.Error())
		}
		if lease != nil {
			a.Logger.Info("leading: purges, key rotation, audit checkpoints and housekeeping run in this process")
			lctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); work(lctx) }()
			t := time.NewTicker(leaderCheck)
			for held := true; held; {
				select {
				case <-done:
					held = false
				case <-t.C:
					if !lease.Held(ctx) && ctx.Err() == nil {
						a.Logger.Error("leader lease lost: another process takes over")
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
		case <-time.After(leaderRetry):
		}
	}
}

// lead is the leader's work, until ctx ends.
func (a *App) lead(ctx context.Context) {
	var wg sync.WaitGroup
	for _, task := range []func(context.Context){a.purges, a.orphanedPurges, a.housekeeping, a.checkpoints, a.maintainKeys} {
		wg.Add(1)
		go func() { defer wg.Done(); task(ctx) }()
	}
	wg.Wait()
}
