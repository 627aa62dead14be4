package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/store"
)

// The conformance suite of the trail's statements: every one, against the
// engine this half of the suite runs on (make test runs it on both), with
// what each must read back.
func TestStoreTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t)
	db := l.DB
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if n, err := trailSize(ctx, db.Reader); err != nil || n != 0 {
		t.Errorf("trailSize of an empty trail: %d %v", n, err)
	}
	if _, err := latestCheckpoint(ctx, db.Reader); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("latestCheckpoint of none: %v", err)
	}
	es := []*Entry{
		{Time: t0, Actor: "a", Action: "order.created", Subjects: map[string]string{"order_id": "ord_1"}, Details: map[string]string{}},
		{Time: t0, Actor: "a", Action: "order.viewed", Subjects: map[string]string{"order_id": "ord_2", "partner_id": "ptn_r"},
			Details: map[string]string{"route": "x"}},
		{Time: t0.Add(time.Second), Actor: "a", Action: "order.closed", Subjects: map[string]string{"order_id": "ord_1"}, Details: map[string]string{}},
	}
	if err := db.Tx(ctx, func(tx *store.Tx) error { return insertPending(ctx, tx, es) }); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := pendingStats(ctx, db.Reader); err != nil || n != 3 || oldest != store.FormatTime(t0) {
		t.Errorf("pendingStats: %d %q %v", n, oldest, err)
	}
	if rows, err := pendingOfOrder(ctx, db.Reader, "ord_1", 10); err != nil || len(rows) != 2 || rows[1].Action != "order.closed" {
		t.Errorf("pendingOfOrder: %+v %v", rows, err)
	}
	err := db.Tx(ctx, func(tx *store.Tx) error {
		rows, err := pending(ctx, tx, 10)
		if err != nil || len(rows) != 3 || rows[0].ID >= rows[1].ID {
			t.Fatalf("pending: %+v %v", rows, err)
		}
		got := make([]*Entry, len(rows))
		ids := make([]int64, len(rows))
		for i, r := range rows {
			e, err := r.entry(-1)
			if err != nil {
				return err
			}
			got[i], ids[i] = &e, r.ID
		}
		if err := writeEntries(ctx, tx, 0, got); err != nil {
			return err
		}
		return deletePending(ctx, tx, ids)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := pendingStats(ctx, db.Reader); err != nil || n != 0 || oldest != "" {
		t.Errorf("pendingStats once integrated: %d %q %v", n, oldest, err)
	}
	if es, err := integratedOfOrder(ctx, db.Reader, "ord_2", 10); err != nil || len(es) != 1 || es[0].Seq != 1 || es[0].Details["route"] != "x" {
		t.Errorf("integratedOfOrder: %+v %v", es, err)
	}
	if n, err := trailSize(ctx, db.Reader); err != nil || n != 3 {
		t.Errorf("trailSize: %d %v", n, err)
	}
	if n, err := hashCount(ctx, db.Reader); err != nil || n != tlog.StoredHashCount(3) {
		t.Errorf("hashCount: %d %v", n, err)
	}
	var seqs []int64
	if err := eachEntry(ctx, db.Reader, func(r entryRow) error { seqs = append(seqs, r.Seq); return nil }); err != nil || len(seqs) != 3 || seqs[2] != 2 {
		t.Errorf("eachEntry: %v %v", seqs, err)
	}
	var idxs []int64
	err = eachHash(ctx, db.Reader, func(idx int64, h []byte) (bool, error) {
		idxs = append(idxs, idx)
		return len(idxs) < 2, nil
	})
	if err != nil || len(idxs) != 2 || idxs[1] != 1 {
		t.Errorf("eachHash, stopped after two: %v %v", idxs, err)
	}
	rows, err := entriesOfOrder(ctx, db.Reader, "ord_1", 10)
	if err != nil || len(rows) != 2 || rows[1].Action != "order.closed" {
		t.Errorf("entriesOfOrder: %+v %v", rows, err)
	}
	if e, err := rows[0].entry(); err != nil || e.Subjects["order_id"] != "ord_1" || !e.Time.Equal(t0) {
		t.Errorf("an entry read back: %+v %v", e, err)
	}
	h, err := tlog.TreeHash(3, hashReader{ctx, db.Reader, db.Engine})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *store.Tx) error { return insertCheckpoint(ctx, tx, 3, h, "signed note", t0) }); err != nil {
		t.Fatal(err)
	}
	cp, err := latestCheckpoint(ctx, db.Reader)
	if err != nil || cp.TreeSize != 3 || cp.RootHash != h.String() || cp.Note != "signed note" || !cp.CreatedAt.Equal(t0) {
		t.Errorf("latestCheckpoint: %+v %v", cp, err)
	}
	if notes, err := checkpointNotes(ctx, db.Reader); err != nil || len(notes) != 1 || notes[0].Size != 3 {
		t.Errorf("checkpointNotes: %+v %v", notes, err)
	}
}
