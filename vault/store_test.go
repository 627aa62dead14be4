package vault

import (
	"context"
	"slices"
	"testing"

	"github.com/milestone/husky/store"
)

// The conformance suite of keyRows: every method, against the engine this
// half of the suite runs on (make test runs it on both), with what each
// must read back. The wrapped keys are opaque bytes to the statements.
func TestStoreKeyRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newVault(t)
	q := keyRows{db}
	tx := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx *store.Tx) error {
		for _, k := range []keyRow{{"ord_1", 1, []byte("w1")}, {"ord_2", 1, []byte("w2")}, {"ord_3", 2, []byte("w3")}} {
			if err := q.insert(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if ks, err := q.get(ctx, db.Reader, []string{"ord_3", "ord_1", "ord_none"}); err != nil || len(ks) != 2 {
		t.Errorf("get: %+v %v", ks, err)
	}
	if ks, err := q.after(ctx, db.Reader, "ord_1", 1); err != nil || len(ks) != 1 || ks[0].OrderID != "ord_2" || string(ks[0].Wrapped) != "w2" {
		t.Errorf("after: %+v %v", ks, err)
	}
	if vs, err := q.versions(ctx, db.Reader); err != nil || len(vs) != 2 {
		t.Errorf("versions: %+v %v", vs, err)
	}
	stale, err := q.stale(ctx, 2, 10)
	if err != nil || len(stale) != 2 || stale[0].Version != 1 {
		t.Fatalf("stale: %+v %v", stale, err)
	}
	tx(func(tx *store.Tx) error {
		if there, err := q.rewrap(ctx, tx, stale[0], 2, []byte("w1b")); err != nil || !there {
			t.Errorf("rewrap: %v %v", there, err)
		}
		// Wrapped by version 1 no more: a second re-wrap finds nothing.
		if there, err := q.rewrap(ctx, tx, stale[0], 2, []byte("w1c")); err != nil || there {
			t.Errorf("rewrap twice: %v %v", there, err)
		}
		return q.destroy(ctx, tx, []string{"ord_2"})
	})
	ks, err := q.get(ctx, db.Reader, []string{"ord_1", "ord_2", "ord_3"})
	slices.SortFunc(ks, func(a, b keyRow) int { return int(a.OrderID[4]) - int(b.OrderID[4]) })
	if err != nil || len(ks) != 2 || ks[0].Version != 2 || string(ks[0].Wrapped) != "w1b" || ks[1].OrderID != "ord_3" {
		t.Errorf("after rewrap and destroy: %+v %v", ks, err)
	}
	if stale, _ := q.stale(ctx, 2, 10); len(stale) != 0 {
		t.Errorf("stale after: %+v", stale)
	}
}
