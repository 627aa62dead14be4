package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

// The trail is sequenced after commit (Trillian's sequencer, Certificate
// Transparency's merge delay). Record writes a transaction's entries as
// pending, in the transaction, with no lock. Integrate gives them their
// place: one short transaction takes the trail's fence, reads the tree's
// size and the oldest pending entries, writes them with their sequence
// numbers and tree hashes, and deletes them from the pending ones. The
// leader runs it in a loop; any process may call it (the command line's
// checkpoint does), since the fence lets one integrate at a time (an
// advisory lock on PostgreSQL, SQLite's single writer) and a batch that
// fails, or whose process dies, leaves its entries pending: none is lost
// or integrated twice.
//
// Pending entries keep the order they were written in: a transaction's
// own in the order recorded, and those of an order changed under its row
// lock after the commit before. Entries of transactions that ran side by
// side may take either order.

// IntegrateEvery is how often the leader integrates what is pending.
const IntegrateEvery = 50 * time.Millisecond

// integrateBatch is the most entries one integration moves.
const integrateBatch = 2000

// Integrate moves up to integrateBatch pending entries into the tree and
// returns how many it moved.
func (l *Log) Integrate(ctx context.Context) (int, error) {
	var done []*Entry
	err := l.DB.Tx(ctx, func(tx *store.Tx) error {
		done = nil
		if err := store.Serialize(ctx, tx, "audit"); err != nil {
			return err
		}
		rows, err := pending(ctx, tx, integrateBatch)
		if err != nil || len(rows) == 0 {
			return err
		}
		size, err := trailSize(ctx, tx)
		if err != nil {
			return fmt.Errorf("audit size: %w", err)
		}
		es := make([]*Entry, len(rows))
		ids := make([]int64, len(rows))
		for i, r := range rows {
			e, err := r.entry(-1)
			if err != nil {
				return fmt.Errorf("pending audit entry %d: %w", r.ID, err)
			}
			es[i], ids[i] = &e, r.ID
		}
		if err := writeEntries(ctx, tx, size, es); err != nil {
			return err
		}
		if err := deletePending(ctx, tx, ids); err != nil {
			return fmt.Errorf("integrate audit entries: %w", err)
		}
		done = es
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("integrate audit entries: %w", err)
	}
	if l.Lag != nil {
		now := l.Clock.Now()
		for _, e := range done {
			l.Lag.Observe(now.Sub(e.Time).Seconds())
		}
	}
	return len(done), nil
}

// IntegrateAll integrates until nothing is pending and returns how many
// it moved.
func (l *Log) IntegrateAll(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := l.Integrate(ctx)
		total += n
		if err != nil || n < integrateBatch {
			return total, err
		}
	}
}

// Integrator is the leader's loop: every IntegrateEvery, whatever is
// pending is integrated. An idle trail costs one read under the fence
// and no write; no count is taken (a COUNT over a table that churns as
// fast as this one scans every dead row, and took a core's fifth).
//
// On SQLite nothing is ever pending (writeAt): the loop does nothing there
// rather than take the single writer twenty times a second to find so.
func (l *Log) Integrator() base.Loop {
	return base.Loop{Name: "audit integrator", Every: IntegrateEvery, Run: func(ctx context.Context) error {
		if !*integrated.For(l.DB.Engine) {
			return nil
		}
		_, err := l.IntegrateAll(ctx)
		return err
	}}
}

// integrated says on which engine entries wait for the integrator.
var integrated = store.PerEngine[bool]{SQLite: false, PostgreSQL: true}

// Pending counts the entries waiting to be integrated and returns when the
// oldest was recorded (zero when none waits).
func (l *Log) Pending(ctx context.Context) (int64, time.Time, error) {
	n, oldest, err := pendingStats(ctx, l.DB.Reader)
	if err != nil || oldest == "" {
		return n, time.Time{}, err
	}
	t, err := store.ParseTime(oldest)
	return n, t, err
}
