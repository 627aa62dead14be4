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
const (
	sqlHeartbeatStart = `INSERT INTO dispatchers (id, started_at, heartbeat_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`
	sqlHeartbeat    = `UPDATE dispatchers SET heartbeat_at = $1 WHERE id = $2`
	sqlHeartbeatEnd = `DELETE FROM dispatchers WHERE id = $1`
	// Rows of dispatchers dead for a day go; their claims were free long
	// before.
	sqlHeartbeatsForget = `DELETE FROM dispatchers WHERE heartbeat_at < $1`
)

// beat writes this dispatcher's heartbeat, creating its row if it has none.
func (d *Dispatcher) beat(ctx context.Context, first bool) error {
	now := store.FormatTime(d.Clock.Now())
	return d.DB.Tx(ctx, func(tx *store.Tx) error {
		if !first {
			res, err := tx.ExecContext(ctx, sqlHeartbeat, now, d.owner)
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				return nil
			}
		}
		if _, err := tx.ExecContext(ctx, sqlHeartbeatStart, d.owner, now, now); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		_, err := tx.ExecContext(ctx, sqlHeartbeatsForget, store.FormatTime(d.Clock.Now().Add(-24*time.Hour)))
		return err
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
		_, err := tx.Exec(sqlHeartbeatEnd, d.owner)
		return err
	}); err != nil {
		d.Logger.Error("dispatcher heartbeat end", "error", err.Error())
	}
}

// staleBefore is the heartbeat time before which a dispatcher counts as
// dead.
func (d *Dispatcher) staleBefore(now time.Time) string {
	return store.FormatTime(now.Add(-d.HeartbeatTimeout))
}
