package base

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Loop is background work done again and again: Run at start (unless
// Wait), then every Every, until its context ends. An error is logged
// under Name and the loop goes on; a run that ends with its context says
// nothing.
type Loop struct {
	Name  string
	Every time.Duration
	// Wait skips the run at start: the first is one Every after it.
	Wait bool
	Run  func(ctx context.Context) error
}

// Group is where the service's background work starts and stops: tasks
// that run until their context ends (Go) and loops (Loop), all waited for
// by Wait.
type Group struct {
	Logger *slog.Logger
	wg     sync.WaitGroup
}

// Go runs task until it returns; it must return once ctx ends.
func (g *Group) Go(ctx context.Context, task func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		task(ctx)
	}()
}

// Loop runs l until ctx ends.
func (g *Group) Loop(ctx context.Context, l Loop) {
	g.Go(ctx, func(ctx context.Context) { g.run(ctx, l) })
}

func (g *Group) run(ctx context.Context, l Loop) {
	t := time.NewTicker(l.Every)
	defer t.Stop()
	if l.Wait {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	for {
		if err := l.Run(ctx); err != nil && ctx.Err() == nil && g.Logger != nil {
			g.Logger.Error(l.Name, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wait waits for every task and loop of the group to end.
func (g *Group) Wait() { g.wg.Wait() }
