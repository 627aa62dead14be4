package breaches

import (
	"context"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of breachRows: every method, against the engine
// this half of the suite runs on (make test runs it on both).
func TestStoreBreachRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	q := breachRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tx := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx *store.Tx) error {
		if err := q.insert(ctx, tx, "brc_1", "dpo", opening{scope: ScopeRecipients, recipients: []string{"ptn_a", "ptn_b"},
			from: t0, to: t0.Add(time.Hour), aware: t0.Add(2 * time.Hour), description: "d", consequences: "c", measures: "m"}, t0); err != nil {
			return err
		}
		return q.insert(ctx, tx, "brc_2", "dpo", opening{scope: ScopeService, from: t0, to: t0, aware: t0.Add(3 * time.Hour), description: "e"}, t0)
	})
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		return q.insert(ctx, tx, "brc_3", "dpo", opening{scope: ScopeService, recipients: []string{"ptn_a"}, from: t0, to: t0, aware: t0, description: "x"}, t0)
	}); err == nil {
		t.Error("a breach here naming recipients was stored")
	}
	r, ok, err := q.get(ctx, db.Reader, "brc_1")
	if err != nil || !ok || r.Partners != "ptn_a,ptn_b" || !r.WindowTo.Equal(t0.Add(time.Hour)) || r.Impact != "" || !r.NotifiedAt.IsZero() || r.HighRisk {
		t.Errorf("get: %+v %v %v", r, ok, err)
	}
	if _, ok, err := q.get(ctx, db.Reader, "brc_none"); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	tx(func(tx *store.Tx) error {
		if err := q.setImpact(ctx, tx, "brc_1", `{"orders":3}`, t0.Add(4*time.Hour)); err != nil {
			return err
		}
		if done, err := q.setNotified(ctx, tx, "brc_1", t0.Add(5*time.Hour), ""); err != nil || !done {
			t.Errorf("setNotified: %v %v", done, err)
		}
		if done, err := q.setNotified(ctx, tx, "brc_1", t0.Add(6*time.Hour), "again"); err != nil || done {
			t.Errorf("setNotified twice: %v %v", done, err)
		}
		return q.setRisk(ctx, tx, "brc_1", Risk{High: true, Reason: "r", Advice: "a"})
	})
	r, _, _ = q.get(ctx, db.Reader, "brc_1")
	if r.Impact != `{"orders":3}` || !r.NotifiedAt.Equal(t0.Add(5*time.Hour)) || r.LateReason != "" || !r.HighRisk || r.Advice != "a" {
		t.Errorf("after the updates: %+v", r)
	}
	if rows, err := q.list(ctx, 10); err != nil || len(rows) != 2 || rows[0].ID != "brc_2" {
		t.Errorf("list (latest awareness first): %+v %v", rows, err)
	}
	if aware, err := q.unnotified(ctx); err != nil || len(aware) != 1 || !aware[0].Equal(t0.Add(3*time.Hour)) {
		t.Errorf("unnotified: %v %v", aware, err)
	}
}
