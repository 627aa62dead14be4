package sharing

import (
	"context"
	"fmt"
	"time"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

// Every running dispatcher keeps a heartbeat row. A claim whose owner's
// heartbeat has gone stale is free to take at once, whatever its lease
// says: a dispatcher killed mid-flight (SIGKILL, a lost machine) gives up
// its claims within HeartbeatTimeout instead of the lease's length (about
// 95 s with the default timeout). Its own claims a dispatcher never takes
// back that way, since its heartbeat may only lag behind a busy writer.
// beat writes this dispatcher's heartbeat, creating its row if it has none.
func (d *Dispatcher) beat(ctx context.Context, first bool) error {
	now := d.Clock.Now()
	return d.DB.Tx(ctx, func(tx *store.Tx) error {
		if !first {
			there, err := d.rows().beat(ctx, tx, d.owner, now)
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
			if there {
				return nil
			}
		}
		// Rows of dispatchers dead for a day go; their claims were free
		// long before.
		if err := d.rows().startBeating(ctx, tx, d.owner, now, now.Add(-24*time.Hour)); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nil
	})
}

// heartbeats is the loop that beats every HeartbeatEvery; once it ends,
// endHeartbeat removes the row: a dispatcher that stops cleanly has given
// its claims back already.
func (d *Dispatcher) heartbeats() base.Loop {
	return base.Loop{Name: "dispatcher heartbeat", Every: d.HeartbeatEvery, Wait: true,
		Run: func(ctx context.Context) error { return d.beat(ctx, false) }}
}

// endHeartbeat removes this dispatcher's row once it has stopped.
func (d *Dispatcher) endHeartbeat() {
	if err := d.DB.Tx(context.Background(), func(tx *store.Tx) error {
		return d.rows().endBeating(context.Background(), tx, d.owner)
	}); err != nil {
		d.Logger.Error("dispatcher heartbeat end", "error", err.Error())
	}
}

// staleBefore is the heartbeat time before which a dispatcher counts as
// dead.
func (d *Dispatcher) staleBefore(now time.Time) time.Time {
	return now.Add(-d.HeartbeatTimeout)
}

func (d *Dispatcher) rows() deliveryRows { return deliveryRows{d.DB} }
