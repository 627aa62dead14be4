package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/milestone/husky/store"
)

// record records n entries in one transaction and leaves them pending.
func record(t *testing.T, l *Log, n int, order string) {
	t.Helper()
	err := l.DB.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			if err := l.Record(context.Background(), tx, "system:test", "order.event", map[string]string{"order_id": order},
				map[string]string{"count": fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// On PostgreSQL, recorded entries wait for the integrator, which gives
// them their place in the order they were written.
func TestEntriesWaitForTheIntegratorAndKeepTheirOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t)
	record(t, l, 3, "ord_a")
	record(t, l, 2, "ord_b")
	if l.DB.Engine == store.SQLite {
		// The committing transaction is SQLite's sequencer: nothing waits.
		if n, err := l.Size(ctx); err != nil || n != 5 {
			t.Fatalf("entries on SQLite are in the tree at commit: %d %v", n, err)
		}
		if n, err := l.IntegrateAll(ctx); err != nil || n != 0 {
			t.Fatalf("IntegrateAll on SQLite: %d %v", n, err)
		}
		if rep := verify(t, l, nil); !rep.OK || rep.Entries != 5 || rep.Pending != 0 {
			t.Fatalf("verify: %+v", rep)
		}
		return
	}
	if n, err := l.Size(ctx); err != nil || n != 0 {
		t.Fatalf("recorded entries are in the tree before integration: %d %v", n, err)
	}
	rep := verify(t, l, nil)
	if !rep.OK || rep.Entries != 0 || rep.Pending != 5 || rep.OldestPendingSeconds < 0 {
		t.Fatalf("verify before integration: %+v", rep)
	}
	es, err := l.ByOrder(ctx, "ord_a", 10)
	if err != nil || len(es) != 3 || !es[0].Pending || es[0].Seq != -1 {
		t.Fatalf("ByOrder of pending entries: %+v %v", es, err)
	}
	if n, err := l.IntegrateAll(ctx); err != nil || n != 5 {
		t.Fatalf("IntegrateAll: %d %v", n, err)
	}
	if n, err := l.IntegrateAll(ctx); err != nil || n != 0 {
		t.Fatalf("IntegrateAll with nothing pending: %d %v", n, err)
	}
	es, err = l.ByOrder(ctx, "ord_a", 10)
	if err != nil || len(es) != 3 {
		t.Fatalf("ByOrder: %+v %v", es, err)
	}
	for i, e := range es {
		if e.Pending || e.Seq != int64(i) || e.Details["count"] != fmt.Sprint(i) {
			t.Errorf("entry %d of ord_a: %+v", i, e)
		}
	}
	if rep := verify(t, l, nil); !rep.OK || rep.Entries != 5 || rep.Pending != 0 || rep.OldestPendingSeconds != 0 {
		t.Fatalf("verify after integration: %+v", rep)
	}
}

// TestIntegratorsSideBySideIntegrateEachEntryOnce runs writers and several
// integrators at once, as a leader, a command-line checkpoint and a
// leader that has just lost its lease might: every entry lands in the
// tree once, the tree verifies, and each order's entries keep their order.
func TestIntegratorsSideBySideIntegrateEachEntryOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t)
	const writers, txs, per = 4, 25, 3
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var integrators sync.WaitGroup
	for range 3 {
		integrators.Add(1)
		go func() {
			defer integrators.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Integrate(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range txs {
				record(t, l, per, fmt.Sprintf("ord_%d", w))
			}
		}()
	}
	wg.Wait()
	close(stop)
	integrators.Wait()
	integrate(t, l)
	rep := verify(t, l, nil)
	if !rep.OK || rep.Entries != writers*txs*per || rep.Pending != 0 {
		t.Fatalf("verify: %+v", rep)
	}
	for w := range writers {
		es, err := l.ByOrder(ctx, fmt.Sprintf("ord_%d", w), 1000)
		if err != nil || len(es) != txs*per {
			t.Fatalf("ord_%d: %d entries, %v", w, len(es), err)
		}
		for i, e := range es {
			if e.Details["count"] != fmt.Sprint(i%per) || (i > 0 && e.Seq <= es[i-1].Seq) {
				t.Fatalf("ord_%d's entries out of order at %d: %+v", w, i, e)
			}
		}
	}
}
