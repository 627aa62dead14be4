package sharing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of deliveryRows: every method, against the engine
// this half of the suite runs on (make test runs it on both), with what
// each must read back.

func inTx(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Tx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func storeFixture(t *testing.T) (*store.DB, deliveryRows, []string) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	ps := &partners.Store{DB: db, Clock: time.Now}
	ord := orderstest.Closed(t, db, 3)
	for _, id := range []string{"ptn_a", "ptn_b"} {
		if _, _, err := ps.Add(ctx, "test", partners.NewPartner{ID: id, Kind: partners.KindReseller, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	return db, deliveryRows{db}, ord
}

func TestStoreDeliveryRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, q, ord := storeFixture(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// Three deliveries to ptn_a: two about ord[0] (queued in that order),
	// one about ord[1]; one to ptn_b about ord[0]; and an imported
	// disclosure of ord[2] to ptn_b.
	ds := []newDelivery{
		{ID: "dlv_1", PartnerID: "ptn_a", OrderID: ord[0], Event: EventOrderCreated, Payload: []byte(`{"a":1}`), PayloadSHA256: "h1",
			Fields: "phone", At: t0},
		{ID: "dlv_2", PartnerID: "ptn_a", OrderID: ord[0], Event: EventOrderCancelled, Payload: []byte(`{"a":2}`), PayloadSHA256: "h2", At: t0},
		{ID: "dlv_3", PartnerID: "ptn_a", OrderID: ord[1], Event: EventOrderCreated, Payload: []byte(`{"a":3}`), PayloadSHA256: "h3",
			Fields: "phone,email", At: t0},
		{ID: "dlv_4", PartnerID: "ptn_b", OrderID: ord[0], Event: EventOrderCreated, Payload: []byte(`{"b":1}`), PayloadSHA256: "h4",
			Fields: "address", At: t0},
	}
	inTx(t, db, func(tx *store.Tx) error {
		if err := q.insert(ctx, tx, ds); err != nil {
			return err
		}
		return q.insertImported(ctx, tx, "dlv_5", "ptn_b", ord[2], t0.Add(-time.Hour))
	})
	if d, ok, err := q.get(ctx, "dlv_1"); err != nil || !ok || d.Status != string(StatusPending) || d.Fields != "phone" || !d.NextAttemptAt.Equal(t0) {
		t.Errorf("get: %+v %v %v", d, ok, err)
	}
	if _, ok, err := q.get(ctx, "dlv_none"); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	if rows, err := q.list(ctx, ListFilter{PartnerID: "ptn_a", Limit: 2}); err != nil || len(rows) != 3 || rows[0].ID != "dlv_3" {
		t.Errorf("list by recipient (limit+1 read): %d %v", len(rows), err)
	}
	if rows, err := q.list(ctx, ListFilter{Status: StatusDelivered, OrderID: ord[2], After: "dlv_9", Limit: 5}); err != nil || len(rows) != 1 || rows[0].ID != "dlv_5" {
		t.Errorf("list by status, order and cursor: %+v %v", rows, err)
	}
	if n, oldest, err := q.backlog(ctx); err != nil || n != 4 || oldest == "" {
		t.Errorf("backlog: %d %q %v", n, oldest, err)
	}

	// Claiming: due, lease, held; a message never overtakes an earlier one
	// about its order to its recipient.
	now, stale := t0.Add(time.Minute), t0.Add(-time.Minute)
	due, err := q.due(ctx, dueParams{PartnerID: "ptn_a", Now: now, StaleBefore: stale, Owner: "dsp_1", Limit: 10})
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(due)), []string{"dlv_1", "dlv_3"}) {
		t.Fatalf("due: %v %v", due, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		if err := q.startBeating(ctx, tx, "dsp_1", now, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		if there, err := q.beat(ctx, tx, "dsp_1", now); err != nil || !there {
			t.Errorf("beat: %v %v", there, err)
		}
		claims, err := q.lease(ctx, tx, leaseParams{Owner: "dsp_1", Until: now.Add(time.Minute), Now: now, StaleBefore: stale,
			IDs: []string{"dlv_1", "dlv_2", "dlv_3"}})
		if err != nil || len(claims) != 2 {
			t.Errorf("lease (dlv_2 waits for dlv_1): %+v %v", claims, err)
		}
		held, err := q.held(ctx, tx, "dsp_1", []string{"dlv_1", "dlv_3", "dlv_4"})
		if err != nil || len(held) != 2 {
			t.Errorf("held: %+v %v", held, err)
		}
		if err := q.release(ctx, tx, "dlv_3", "dsp_1"); err != nil {
			return err
		}
		if err := q.insertAttempts(ctx, tx, []attemptRow{
			{DeliveryID: "dlv_1", Attempt: 1, Started: now, DurationMS: 1.5, HTTPStatus: 200, Body: []byte("ok")},
			{DeliveryID: "dlv_4", Attempt: 1, Started: now, DurationMS: 2, Error: "connection refused", Body: []byte("x")},
		}); err != nil {
			return err
		}
		if err := q.delivered(ctx, tx, deliveredParams{At: now, Status: 200, Owner: "dsp_1", IDs: []string{"dlv_1"}}); err != nil {
			return err
		}
		return q.healthy(ctx, tx, "ptn_a")
	})
	if held, _ := q.heldCount(ctx); held != 0 {
		t.Errorf("heldCount with nothing restricted: %d", held)
	}
	if d, _, _ := q.get(ctx, "dlv_1"); d.Status != string(StatusDelivered) || d.Attempts != 1 || d.DeliveredAt.IsZero() {
		t.Errorf("after delivered: %+v", d)
	}
	if as, err := q.attempts(ctx, "dlv_1"); err != nil || len(as) != 1 || as[0].HTTPStatus == nil || *as[0].HTTPStatus != 200 || !as[0].Started.Equal(now) {
		t.Errorf("attempts: %+v %v", as, err)
	}

	// Failures: a retry, then death; the recipient's run of failures.
	inTx(t, db, func(tx *store.Tx) error {
		if _, err := q.lease(ctx, tx, leaseParams{Owner: "dsp_1", Until: now.Add(time.Minute), Now: now, StaleBefore: stale, IDs: []string{"dlv_4"}}); err != nil {
			return err
		}
		if err := q.failed(ctx, tx, failedParams{ID: "dlv_4", Owner: "dsp_1", Attempts: 1, Step: 1, Now: now, Next: now.Add(time.Hour),
			Status: 503, Error: "HTTP 503"}); err != nil {
			return err
		}
		since, err := q.failing(ctx, tx, "ptn_b", now)
		if err != nil || !since.Equal(now) {
			t.Errorf("failing, first: %v %v", since, err)
		}
		if since, err := q.failing(ctx, tx, "ptn_b", now.Add(time.Hour)); err != nil || !since.Equal(now) {
			t.Errorf("failing keeps its start: %v %v", since, err)
		}
		if _, err := q.lease(ctx, tx, leaseParams{Owner: "dsp_1", Until: now.Add(2 * time.Hour), Now: now.Add(time.Hour), StaleBefore: stale,
			IDs: []string{"dlv_4"}}); err != nil {
			return err
		}
		return q.failed(ctx, tx, failedParams{ID: "dlv_4", Owner: "dsp_1", Attempts: 2, Step: 2, Now: now.Add(time.Hour), Dead: true,
			Error: "timeout"})
	})
	if d, _, _ := q.get(ctx, "dlv_4"); d.Status != string(StatusDead) || d.Attempts != 2 || d.LastError != "timeout" {
		t.Errorf("after failed (dead): %+v", d)
	}
	if h, err := q.health(ctx); err != nil || len(h) != 1 || h[0].PartnerID != "ptn_b" {
		t.Errorf("health: %+v %v", h, err)
	}
	if n, err := q.countDead(ctx, now); err != nil || n != 1 {
		t.Errorf("countDead: %d %v", n, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		ids, err := q.deadSince(ctx, tx, now)
		if err != nil || !slices.Equal(ids, []string{"dlv_4"}) {
			t.Errorf("deadSince: %v %v", ids, err)
		}
		if ok, err := q.replay(ctx, tx, "dlv_4", now.Add(2*time.Hour)); err != nil || !ok {
			t.Errorf("replay: %v %v", ok, err)
		}
		if ok, err := q.replay(ctx, tx, "dlv_5", now); err != nil || ok {
			t.Errorf("replay of an imported disclosure (no payload): %v %v", ok, err)
		}
		if ok, err := q.exists(ctx, tx, "dlv_5"); err != nil || !ok {
			t.Errorf("exists: %v %v", ok, err)
		}
		if ok, err := q.exists(ctx, tx, "dlv_none"); err != nil || ok {
			t.Errorf("exists of none: %v %v", ok, err)
		}
		return nil
	})

	// Who received what.
	inTx(t, db, func(tx *store.Tx) error {
		holders, err := q.disclosedTo(ctx, tx, ord)
		if err != nil || len(holders) != 3 {
			t.Errorf("disclosedTo: %+v %v", holders, err)
		}
		ids, err := q.recipientsOf(ctx, tx, ord[0], EventOrderCreated)
		if err != nil || !slices.Equal(ids, []string{"ptn_a", "ptn_b"}) {
			t.Errorf("recipientsOf: %v %v", ids, err)
		}
		return nil
	})
	if n, err := q.sharedWith(ctx, db.Reader, ord[0], "ptn_a"); err != nil || n != 1 {
		t.Errorf("sharedWith: %d %v", n, err)
	}
	if n, err := q.noticesSent(ctx, db.Reader, ord[2], "ptn_b"); err != nil || n != 0 {
		t.Errorf("noticesSent before one was sent: %d %v", n, err)
	}
	if done, err := q.allDelivered(ctx, db.Reader, ord); err != nil || !slices.Equal(done, []string{ord[2]}) {
		t.Errorf("allDelivered: %v %v", done, err)
	}
	if ds, err := q.disclosures(ctx, ord); err != nil || len(ds) != 3 || !ds[len(ds)-1].Imported {
		t.Errorf("disclosures: %+v %v", ds, err)
	}
	held := map[string]string{}
	err = q.heldBy(ctx, "ptn_b", t0, func(orderID, fields string, imported bool) error {
		held[orderID] = fmt.Sprintf("%s/%v", fields, imported)
		return nil
	})
	if want := map[string]string{ord[0]: "address/false", ord[2]: "/true"}; err != nil || !maps.Equal(held, want) {
		t.Errorf("heldBy ptn_b: %v %v, want %v", held, err, want)
	}
	if err := q.heldBy(ctx, "ptn_b", t0.Add(-2*time.Hour), func(string, string, bool) error { return errors.New("called") }); err != nil {
		t.Errorf("heldBy before any disclosure: %v", err)
	}

	// Erasure notices and their reminders.
	inTx(t, db, func(tx *store.Tx) error {
		return q.insert(ctx, tx, []newDelivery{{ID: "dlv_6", PartnerID: "ptn_b", OrderID: ord[2], Event: EventOrderErased, Payload: []byte(`{}`),
			PayloadSHA256: "h6", At: t0}})
	})
	if ns, err := q.notices(ctx, db.Reader, ord); err != nil || len(ns) != 1 || ns[0].Pending != 1 || ns[0].Sent != 1 {
		t.Errorf("notices: %+v %v", ns, err)
	}
	if due, err := q.noticesDue(ctx, noticesDueParams{Since: t0.Add(-time.Hour), Times: 3, Limit: 10}); err != nil || len(due) != 0 {
		t.Errorf("noticesDue while the notice is on its way: %+v %v", due, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		_, err := q.lease(ctx, tx, leaseParams{Owner: "dsp_1", Until: now.Add(time.Hour), Now: now, StaleBefore: stale, IDs: []string{"dlv_6"}})
		return err
	})
	if n, err := q.noticesSent(ctx, db.Reader, ord[2], "ptn_b"); err != nil || n != 1 {
		t.Errorf("noticesSent of one in flight: %d %v", n, err)
	}

	// Sealing plain payloads and answer bodies.
	inTx(t, db, func(tx *store.Tx) error {
		pays, err := q.plainPayloads(ctx, tx, ord)
		if err != nil || len(pays) != 3 {
			t.Errorf("plainPayloads (personal ones): %+v %v", pays, err)
		}
		if err := q.sealPayload(ctx, tx, "dlv_1", []byte("\x00sealed")); err != nil {
			return err
		}
		bodies, err := q.plainBodies(ctx, tx, ord)
		if err != nil || len(bodies) != 2 {
			t.Errorf("plainBodies: %+v %v", bodies, err)
		}
		if err := q.sealBody(ctx, tx, "dlv_1", 1, []byte("\x00sealed")); err != nil {
			return err
		}
		if pays, _ := q.plainPayloads(ctx, tx, ord); len(pays) != 2 {
			t.Errorf("plainPayloads after sealing one: %d", len(pays))
		}
		return nil
	})

	// Erasure of the outbox's copies.
	inTx(t, db, func(tx *store.Tx) error { return q.erase(ctx, tx, []string{ord[0]}, now.Add(3*time.Hour)) })
	if d, _, _ := q.get(ctx, "dlv_2"); d.Status != string(StatusPending) {
		t.Errorf("an ids-only message still goes after erasure: %+v", d)
	}
	if d, _, _ := q.get(ctx, "dlv_4"); d.Status != string(StatusDead) || d.LastError != "order erased before delivery" {
		t.Errorf("a pending disclosure is dropped on erasure: %+v", d)
	}
	inTx(t, db, func(tx *store.Tx) error {
		if pays, _ := q.plainPayloads(ctx, tx, []string{ord[0]}); len(pays) != 0 {
			t.Errorf("payloads left after erasure: %+v", pays)
		}
		if bodies, _ := q.plainBodies(ctx, tx, []string{ord[0]}); len(bodies) != 0 {
			t.Errorf("bodies left after erasure: %+v", bodies)
		}
		return q.endBeating(ctx, tx, "dsp_1")
	})
	inTx(t, db, func(tx *store.Tx) error {
		if there, err := q.beat(ctx, tx, "dsp_1", now); err != nil || there {
			t.Errorf("beat after endBeating: %v %v", there, err)
		}
		return nil
	})
}

func TestStoreRestrictionRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, q, ord := storeFixture(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h1, h2 := []byte{0xa1}, []byte{0xa2}
	inTx(t, db, func(tx *store.Tx) error {
		if err := q.insert(ctx, tx, []newDelivery{{ID: "dlv_1", PartnerID: "ptn_a", OrderID: ord[0], Event: EventOrderCreated,
			Payload: []byte(`{}`), PayloadSHA256: "h", Fields: "phone", At: t0}}); err != nil {
			return err
		}
		for _, b := range []struct {
			req  string
			hash []byte
		}{{"sr_1", h1}, {"sr_1", h2}, {"sr_2", h2}} {
			if err := q.bindHash(ctx, tx, b.req, b.hash, 1, t0); err != nil {
				return err
			}
		}
		for _, p := range []restrictOrderParams{
			{OrderID: ord[0], RequestID: "sr_1", Since: t0, Kind: KindRestriction},
			{OrderID: ord[1], RequestID: "sr_1", Since: t0, Kind: KindNewOrder},
			{OrderID: ord[1], RequestID: "sr_1", Since: t0, Kind: KindRestriction}, // included: a new order becomes a restriction
			{OrderID: ord[2], RequestID: "sr_2", Since: t0, Kind: KindRetainedErasure},
		} {
			if err := q.restrictOrder(ctx, tx, p); err != nil {
				return err
			}
		}
		return q.holdPending(ctx, tx, []string{ord[0]})
	})
	if n, err := q.heldCount(ctx); err != nil || n != 1 {
		t.Errorf("heldCount: %d %v", n, err)
	}
	if due, _ := q.due(ctx, dueParams{PartnerID: "ptn_a", Now: t0, StaleBefore: t0, Owner: "dsp", Limit: 5}); len(due) != 0 {
		t.Errorf("a held delivery is due: %v", due)
	}
	rows, err := q.restrictedBy(ctx, db.Reader, "sr_1")
	if err != nil || len(rows) != 2 || rows[1].Kind != KindRestriction {
		t.Errorf("restrictedBy: %+v %v", rows, err)
	}
	if hs, err := q.bindingHashes(ctx, db.Reader, "sr_1"); err != nil || len(hs) != 2 {
		t.Errorf("bindingHashes: %v %v", hs, err)
	}
	if vs, err := q.bindingVersions(ctx); err != nil || !slices.Equal(vs, []uint32{1}) {
		t.Errorf("bindingVersions: %v %v", vs, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		if reqs, err := q.requestsBinding(ctx, tx, [][]byte{h2}); err != nil || !slices.Equal(reqs, []string{"sr_1", "sr_2"}) {
			t.Errorf("requestsBinding: %v %v", reqs, err)
		}
		if reqs, err := q.restrictingRequests(ctx, tx, ord[1]); err != nil || !slices.Equal(reqs, []string{"sr_1"}) {
			t.Errorf("restrictingRequests: %v %v", reqs, err)
		}
		if n, err := q.retainedCount(ctx, tx, "sr_2"); err != nil || n != 1 {
			t.Errorf("retainedCount: %d %v", n, err)
		}
		bs, err := q.bindingsToRehash(ctx, tx, 2)
		if err != nil || len(bs) != 3 || !bs[0].Since.Equal(t0) {
			t.Errorf("bindingsToRehash: %+v %v", bs, err)
		}
		if err := q.bindHash(ctx, tx, "sr_2", []byte{0xb2}, 2, t0); err != nil {
			return err
		}
		if err := q.unbindHash(ctx, tx, "sr_2", h2); err != nil {
			return err
		}
		if err := q.liftOrder(ctx, tx, "sr_2", ord[2]); err != nil { // a retained erasure is never lifted
			return err
		}
		if err := q.liftOrder(ctx, tx, "sr_1", ord[1]); err != nil {
			return err
		}
		if err := q.liftAll(ctx, tx, "sr_1"); err != nil {
			return err
		}
		return q.releaseHeld(ctx, tx, []string{ord[0]})
	})
	if n, _ := q.heldCount(ctx); n != 0 {
		t.Errorf("heldCount after release: %d", n)
	}
	if rows, _ := q.restrictedBy(ctx, db.Reader, "sr_1"); len(rows) != 0 {
		t.Errorf("restrictedBy after liftAll: %+v", rows)
	}
	if rows, _ := q.restrictedBy(ctx, db.Reader, "sr_2"); len(rows) != 1 {
		t.Errorf("a retained erasure was lifted: %+v", rows)
	}
	if hs, _ := q.bindingHashes(ctx, db.Reader, "sr_2"); len(hs) != 1 || hs[0][0] != 0xb2 {
		t.Errorf("bindingHashes after re-binding: %v", hs)
	}
}
