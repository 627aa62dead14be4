package sharing

import (
	"context"
	"sync"
	"time"
)

// An order moves to "shared" once every recipient has its order.created.
// The dispatcher learns that when it records the last of those deliveries,
// and hands the order to the orders package (Lifecycle) after its own
// transaction commits, never inside it: orders' transaction, which tells
// the reseller through the outbox, is orders' own. A crash between the two
// leaves the order "received" with its deliveries done; the start's
// reconciliation (AllDelivered) moves it.

// sharedQueue collects the orders to move, for one goroutine that moves
// them in as few transactions as the load allows.
type sharedQueue struct {
	mu   sync.Mutex
	ids  []string
	wake chan struct{}
}

// noteShared queues orders to move to "shared"; it never blocks.
func (d *Dispatcher) noteShared(ids []string) {
	if d.Lifecycle == nil || len(ids) == 0 {
		return
	}
	d.shared.mu.Lock()
	d.shared.ids = append(d.shared.ids, ids...)
	d.shared.mu.Unlock()
	select {
	case d.shared.wake <- struct{}{}:
	default:
	}
}

// sharedEvery is the longest an order waits to be moved: the orders of a
// busy dispatcher's many turns then move in one transaction, which the
// writer, shared with the dispatcher, can afford.
const sharedEvery = 200 * time.Millisecond

// moveShared moves the queued orders until ctx ends, then once more for
// what is left.
func (d *Dispatcher) moveShared(ctx context.Context) {
	for {
		select {
		case <-d.shared.wake:
			select {
			case <-time.After(sharedEvery):
			case <-ctx.Done():
			}
			d.moveQueued(ctx)
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			d.moveQueued(last)
			cancel()
			return
		}
	}
}

func (d *Dispatcher) moveQueued(ctx context.Context) {
	d.shared.mu.Lock()
	ids := d.shared.ids
	d.shared.ids = nil
	d.shared.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := d.Lifecycle.MarkShared(ctx, ids); err != nil {
		// The next start's reconciliation moves them.
		d.Logger.Error("move orders to shared", "count", len(ids), "error", err.Error())
	}
}
