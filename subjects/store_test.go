package subjects

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of requestRows: every method, against the engine
// this half of the suite runs on (make test runs it on both), with what
// each must read back.
func TestStoreRequestRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	ord := orderstest.Closed(t, db, 2)
	q := requestRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tx := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx *store.Tx) error {
		for i, p := range []insertRequestParams{
			{ID: "sr_1", Type: TypeAccess, EmailHash: []byte{1}, ReceivedAt: t0, DueAt: t0.Add(30 * 24 * time.Hour), Actor: "dpo", LookupVersion: 1},
			{ID: "sr_2", Type: TypeErasure, PhoneHash: []byte{2}, ReceivedAt: t0, DueAt: t0.Add(10 * 24 * time.Hour), Actor: "dpo", LookupVersion: 2},
		} {
			if err := q.insert(ctx, tx, p); err != nil {
				return fmt.Errorf("insert %d: %w", i, err)
			}
		}
		return nil
	})
	tx(func(tx *store.Tx) error {
		r, ok, err := q.get(ctx, tx, "sr_1")
		if err != nil || !ok || r.Type != string(TypeAccess) || r.Status != "open" || r.PhoneHash != nil || !r.DueAt.Equal(t0.Add(30*24*time.Hour)) {
			t.Errorf("get: %+v %v %v", r, ok, err)
		}
		if _, ok, err := q.get(ctx, tx, "sr_none"); ok || err != nil {
			t.Errorf("get of none: %v %v", ok, err)
		}
		if err := q.extend(ctx, tx, extendParams{ID: "sr_2", DueAt: t0.Add(60 * 24 * time.Hour), ExtendedAt: t0, Reason: "complex"}); err != nil {
			return err
		}
		// Only once.
		if err := q.extend(ctx, tx, extendParams{ID: "sr_2", DueAt: t0.Add(90 * 24 * time.Hour), ExtendedAt: t0, Reason: "again"}); err != nil {
			return err
		}
		for _, a := range []string{"received", "found"} {
			if err := q.addStep(ctx, tx, stepParams{RequestID: "sr_1", Time: t0, Actor: "dpo", Action: a, Details: `{"n":"1"}`}); err != nil {
				return err
			}
		}
		if err := q.keepCandidate(ctx, tx, "sr_1", ord[0], []string{"email", "phone"}, t0); err != nil {
			return err
		}
		if err := q.keepCandidate(ctx, tx, "sr_1", ord[1], []string{"email"}, t0); err != nil {
			return err
		}
		if err := q.decide(ctx, tx, decideParams{RequestID: "sr_1", OrderID: ord[1], Decision: StateExcluded, Reason: "another person",
			Actor: "dpo", At: t0}); err != nil {
			return err
		}
		if err := q.schedule(ctx, tx, ord[0], "sr_2", t0); err != nil {
			return err
		}
		if err := q.schedule(ctx, tx, ord[1], "sr_2", t0.Add(time.Hour)); err != nil {
			return err
		}
		return q.complete(ctx, tx, "sr_1", t0.Add(time.Hour))
	})
	if rows, err := q.list(ctx, "", 10); err != nil || len(rows) != 2 || rows[0].ID != "sr_1" {
		t.Errorf("list, oldest due first: %+v %v", rows, err)
	}
	if rows, err := q.list(ctx, StatusOpen, 10); err != nil || len(rows) != 1 || rows[0].ID != "sr_2" ||
		!rows[0].DueAt.Equal(t0.Add(60*24*time.Hour)) || rows[0].ExtReason == nil || *rows[0].ExtReason != "complex" {
		t.Errorf("list of open ones, extended once: %+v %v", rows, err)
	}
	if dues, err := q.openDue(ctx); err != nil || len(dues) != 1 {
		t.Errorf("openDue: %v %v", dues, err)
	}
	if r, _, _ := q.get(ctx, db.Reader, "sr_1"); r.Status != "completed" || r.CompletedAt.IsZero() {
		t.Errorf("after complete: %+v", r)
	}
	if steps, err := q.steps(ctx, db.Reader, "sr_1"); err != nil || len(steps) != 2 || steps[1].Seq != 2 || steps[1].Action != "found" {
		t.Errorf("steps: %+v %v", steps, err)
	}
	cands, err := q.candidates(ctx, db.Reader, "sr_1")
	slices.SortFunc(cands, func(a, b candidateRow) int { return cmp.Compare(a.OrderID, b.OrderID) })
	if err != nil || len(cands) != 2 || cands[0].MatchedOn != "email,phone" || cands[0].Decision != "" ||
		cands[1].Decision != StateExcluded || cands[1].DecidedBy != "dpo" || !cands[1].DecidedAt.Equal(t0) {
		t.Errorf("candidates: %+v %v", cands, err)
	}
	if rows, err := q.scheduled(ctx, "", 1); err != nil || len(rows) != 1 || rows[0].OrderID != ord[0] {
		t.Errorf("scheduled, oldest first: %+v %v", rows, err)
	}
	if rows, err := q.scheduled(ctx, ord[1], 0); err != nil || len(rows) != 1 || rows[0].RequestID != "sr_2" {
		t.Errorf("scheduled for one order: %+v %v", rows, err)
	}
	tx(func(tx *store.Tx) error {
		if err := q.unschedule(ctx, tx, ord[0], "sr_2"); err != nil {
			return err
		}
		rows, err := q.toRehash(ctx, tx, 2)
		if err != nil || len(rows) != 0 {
			t.Errorf("toRehash (only open ones under another key): %+v %v", rows, err)
		}
		rows, err = q.toRehash(ctx, tx, 3)
		if err != nil || len(rows) != 1 || rows[0].ID != "sr_2" {
			t.Errorf("toRehash: %+v %v", rows, err)
		}
		return q.rehash(ctx, tx, "sr_2", nil, []byte{3}, 3)
	})
	if rows, _ := q.scheduled(ctx, "", 10); len(rows) != 1 {
		t.Errorf("scheduled after unschedule: %+v", rows)
	}
	if vs, err := q.lookupVersions(ctx); err != nil || !slices.Equal(vs, []uint32{3}) {
		t.Errorf("lookupVersions: %v %v", vs, err)
	}
	if r, _, _ := q.get(ctx, db.Reader, "sr_2"); string(r.PhoneHash) != "\x03" || r.EmailHash != nil || r.Lookup != 3 {
		t.Errorf("after rehash: %+v", r)
	}
	// The records of completed requests, deleted past their retention.
	if ids, err := q.completedBefore(ctx, db.Reader, t0, 10); err != nil || len(ids) != 0 {
		t.Errorf("completedBefore its completion: %v %v", ids, err)
	}
	if ids, err := q.completedBefore(ctx, db.Reader, t0.Add(2*time.Hour), 10); err != nil || !slices.Equal(ids, []string{"sr_1"}) {
		t.Errorf("completedBefore (the open one never): %v %v", ids, err)
	}
	if n, err := q.erasuresOf(ctx, db.Reader, "sr_2"); err != nil || n != 1 {
		t.Errorf("erasuresOf: %d %v", n, err)
	}
	if n, err := q.erasuresOf(ctx, db.Reader, "sr_1"); err != nil || n != 0 {
		t.Errorf("erasuresOf none: %d %v", n, err)
	}
	tx(func(tx *store.Tx) error {
		if err := q.addStep(ctx, tx, stepParams{RequestID: "sr_2", Time: t0, Actor: "dpo", Action: "opened", Details: `{}`}); err != nil {
			return err
		}
		if gone, err := q.deleteRequest(ctx, tx, "sr_2"); err != nil || gone {
			t.Errorf("deleteRequest of an open request: %v %v", gone, err)
		}
		return nil
	})
	if steps, _ := q.steps(ctx, db.Reader, "sr_2"); len(steps) == 0 {
		t.Error("deleteRequest of an open request deleted its steps")
	}
	tx(func(tx *store.Tx) error {
		gone, err := q.deleteRequest(ctx, tx, "sr_1")
		if err != nil || !gone {
			t.Errorf("deleteRequest: %v %v", gone, err)
		}
		return err
	})
	if _, ok, _ := q.get(ctx, db.Reader, "sr_1"); ok {
		t.Error("the deleted request is still there")
	}
	if steps, _ := q.steps(ctx, db.Reader, "sr_1"); len(steps) != 0 {
		t.Errorf("its steps are still there: %v", steps)
	}
	if cands, _ := q.candidates(ctx, db.Reader, "sr_1"); len(cands) != 0 {
		t.Errorf("its candidates are still there: %v", cands)
	}
}
