package retention

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of holdRows and runRows: every method, against the
// engine this half of the suite runs on (make test runs it on both), with
// what each must read back.

func storeFixture(t *testing.T) (*store.DB, []string, func(fn func(tx *store.Tx) error)) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	ord := orderstest.Closed(t, db, 3)
	return db, ord, func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoreHoldRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, ord, tx := storeFixture(t)
	q := holdRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tx(func(tx *store.Tx) error {
		if err := q.put(ctx, tx, ord[0], []byte("litigation"), t0); err != nil {
			return err
		}
		if err := q.put(ctx, tx, ord[1], []byte("audit"), t0); err != nil {
			return err
		}
		// Placing it again replaces the reason.
		return q.put(ctx, tx, ord[1], []byte("tax audit"), t0.Add(time.Hour))
	})
	if h, ok, err := q.get(ctx, db.Reader, ord[1]); err != nil || !ok || string(h.Reason) != "tax audit" || !h.PlacedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("get: %+v %v %v", h, ok, err)
	}
	if _, ok, err := q.get(ctx, db.Reader, ord[2]); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	if held, err := q.among(ctx, db.Reader, ord); err != nil || len(held) != 2 || !held[ord[0]] || held[ord[2]] {
		t.Errorf("among: %v %v", held, err)
	}
	if ids, err := q.held(ctx); err != nil || !slices.Equal(ids, ord[:2]) {
		t.Errorf("held: %v %v", ids, err)
	}
	tx(func(tx *store.Tx) error {
		if err := q.setReason(ctx, tx, ord[0], []byte("sealed")); err != nil {
			return err
		}
		return q.remove(ctx, tx, ord[1])
	})
	if rs, err := q.reasons(ctx); err != nil || len(rs) != 1 || rs[0].OrderID != ord[0] || string(rs[0].Reason) != "sealed" {
		t.Errorf("reasons: %+v %v", rs, err)
	}
}

func TestStoreRunRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, ord, tx := storeFixture(t)
	q := runRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tx(func(tx *store.Tx) error {
		if err := q.insert(ctx, tx, "run_1", "finance", t0); err != nil {
			return err
		}
		for _, id := range append(ord, ord[0]) {
			if err := q.addOrder(ctx, tx, "run_1", id); err != nil {
				return err
			}
		}
		return nil
	})
	if err := q.countOrders(ctx, "run_1"); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := q.get(ctx, "run_1"); err != nil || !ok || r.Status != "running" || r.Orders != 3 || r.Actor != "finance" || !r.AsOf.Equal(t0) {
		t.Errorf("get: %+v %v %v", r, ok, err)
	}
	if _, ok, err := q.get(ctx, "run_none"); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	if ids, err := q.running(ctx); err != nil || !slices.Equal(ids, []string{"run_1"}) {
		t.Errorf("running: %v %v", ids, err)
	}
	batch, err := q.undecided(ctx, "run_1", 2)
	if err != nil || !slices.Equal(batch, ord[:2]) {
		t.Fatalf("undecided: %v %v", batch, err)
	}
	tx(func(tx *store.Tx) error {
		if err := q.decide(ctx, tx, "run_1", "erased", batch, t0); err != nil {
			return err
		}
		if err := q.decide(ctx, tx, "run_1", "held", ord[2:], t0); err != nil {
			return err
		}
		return q.progress(ctx, tx, "run_1", 2, 1, 4)
	})
	if rest, err := q.undecided(ctx, "run_1", 2); err != nil || len(rest) != 0 {
		t.Errorf("undecided once all are decided: %v %v", rest, err)
	}
	outcomes, order, err := q.outcomes(ctx, "run_1")
	if err != nil || outcomes[ord[2]] != "held" || !slices.Equal(order, ord) {
		t.Errorf("outcomes: %v %v %v", outcomes, order, err)
	}
	if ids, err := q.erased(ctx, "run_1"); err != nil || !slices.Equal(ids, ord[:2]) {
		t.Errorf("erased: %v %v", ids, err)
	}
	if r, _, _ := q.get(ctx, "run_1"); r.Erased != 2 || r.Held != 1 || r.Notices != 4 {
		t.Errorf("progress: %+v", r)
	}
	tx(func(tx *store.Tx) error {
		if err := q.complete(ctx, tx, "run_1", runCounts{Orders: 3, Erased: 2, Held: 1, Notices: 4, Digest: "d"}, t0.Add(time.Hour)); err != nil {
			return err
		}
		return q.insert(ctx, tx, "run_2", "system:daily", t0.Add(time.Hour))
	})
	if err := q.fail(ctx, "run_2", "disk full", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := q.get(ctx, "run_1"); r.Status != "completed" || r.Digest != "d" || !r.Finished.Equal(t0.Add(time.Hour)) {
		t.Errorf("complete: %+v", r)
	}
	if r, _, _ := q.get(ctx, "run_2"); r.Status != "failed" || r.Error != "disk full" {
		t.Errorf("fail: %+v", r)
	}
	if ids, err := q.latest(ctx, 1); err != nil || !slices.Equal(ids, []string{"run_2"}) {
		t.Errorf("latest: %v %v", ids, err)
	}
	if ids, _ := q.running(ctx); len(ids) != 0 {
		t.Errorf("running after both ended: %v", ids)
	}
}
