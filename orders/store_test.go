package orders

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of orderRows: every method, against the engine
// this half of the suite runs on (make test runs it on both), with what
// each must read back. Values are stored plain here; sealing is the
// service's (seal.go), and the statements do not look inside them.

func inTx(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Tx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func plainPersonal(ref, email string) personalColumns {
	return personalColumns{Reference: ref, Name: "Name", Email: email, Phone: "+4533123456", Organization: "Org",
		Line1: "Line 1", Line2: "", City: "City", PostalCode: "2605", Region: "", Country: "DK", Notes: ""}
}

// twoPartners opens a database with the partners ptn_r and ptn_l that
// orders and recipients' answers refer to.
func twoPartners(t *testing.T) *store.DB {
	t.Helper()
	db := storetest.Open(t)
	ps := &partners.Store{DB: db, Clock: time.Now}
	for _, p := range []partners.NewPartner{{ID: "ptn_r", Kind: partners.KindReseller, Name: "r"},
		{ID: "ptn_l", Kind: partners.KindReseller, Name: "l"}} {
		if _, _, err := ps.Add(context.Background(), "test", p); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestStoreOrderRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := twoPartners(t)
	q := orderRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ids := []string{"ord_1", "ord_2", "ord_3"}
	eh, ph := []byte{0xe1, 0x01}, []byte{0xf1, 0x01}
	inTx(t, db, func(tx *store.Tx) error {
		for i, id := range ids {
			p := insertOrderParams{ID: id, ResellerID: "ptn_r", Status: StatusReceived, Personal: plainPersonal("PO-"+id, id+"@example.com"),
				CreatedAt: t0.Add(time.Duration(i) * time.Hour), UpdatedAt: t0, ReferenceHash: []byte("ref-" + id), LookupVersion: 1}
			if i == 0 {
				p.EmailHash, p.PhoneHash = eh, ph
			}
			if ok, err := q.insert(ctx, tx, p); err != nil || !ok {
				return fmt.Errorf("insert %s: %v %v", id, ok, err)
			}
			// The same reseller and reference again: refused, with no error
			// that would end the transaction.
			dup := p
			dup.ID = id + "_again"
			if ok, err := q.insert(ctx, tx, dup); err != nil || ok {
				return fmt.Errorf("insert of a duplicate reference: %v %v", ok, err)
			}
			if err := q.insertItems(ctx, tx, id, []Item{{SKU: "HE150D-4TB", Quantity: 2}, {SKU: "HE150D-8TB", Quantity: 1}}); err != nil {
				return err
			}
		}
		return nil
	})

	// Reads of one order, by id, reference and hash.
	inTx(t, db, func(tx *store.Tx) error {
		r, ok, err := q.get(ctx, tx, "ord_1")
		if err != nil || !ok || r.Reference != "PO-ord_1" || r.CustomerEmail != "ord_1@example.com" || !r.CreatedAt.Equal(t0) {
			t.Errorf("get in a transaction: %+v %v %v", r, ok, err)
		}
		if _, ok, err := q.get(ctx, tx, "ord_none"); ok || err != nil {
			t.Errorf("get of no order: %v %v", ok, err)
		}
		if id, err := q.byReference(ctx, tx, "ptn_r", []byte("ref-ord_2"), "x"); err != nil || id != "ord_2" {
			t.Errorf("byReference by hash: %q %v", id, err)
		}
		if got, err := q.byOlderReferences(ctx, tx, "ptn_r", [][]byte{[]byte("ref-ord_3"), []byte("nothing")}); err != nil || !slices.Equal(got, []string{"ord_3"}) {
			t.Errorf("byOlderReferences: %v %v", got, err)
		}
		rows, err := q.statesForUpdate(ctx, tx, []string{"ord_2", "ord_1"})
		if err != nil || len(rows) != 2 || rows[0].ID != "ord_1" || rows[0].CustomerEmail != "" {
			t.Errorf("statesForUpdate: %+v %v", rows, err)
		}
		return nil
	})
	if r, ok, err := q.get(ctx, db.Reader, "ord_2"); err != nil || !ok || r.ResellerID != "ptn_r" {
		t.Errorf("get from the read pool: %+v %v %v", r, ok, err)
	}
	if n, err := q.countByReference(ctx, "ptn_r", []byte("ref-ord_1"), "PO-ord_1"); err != nil || n != 1 {
		t.Errorf("countByReference: %d %v", n, err)
	}
	if items, err := q.items(ctx, db.Reader, []string{"ord_1", "ord_2"}); err != nil || len(items) != 4 || items[0].OrderID != "ord_1" || items[0].Quantity != 2 {
		t.Errorf("items: %+v %v", items, err)
	}
	if page, err := q.list(ctx, db.Reader, ListFilter{ResellerID: "ptn_r", Limit: 2}); err != nil || len(page) != 2 || page[0].ID != "ord_3" {
		t.Errorf("list, first page: %v %v", page, err)
	}
	if page, err := q.list(ctx, db.Reader, ListFilter{ResellerID: "ptn_r", Status: StatusReceived, After: "ord_2", Limit: 5}); err != nil || len(page) != 1 || page[0].ID != "ord_1" {
		t.Errorf("list after a cursor: %v %v", page, err)
	}
	if got, err := q.received(ctx, "ord_1", 10); err != nil || !slices.Equal(got, []string{"ord_2", "ord_3"}) {
		t.Errorf("received: %v %v", got, err)
	}
	if cat, err := q.catalog(ctx); err != nil || len(cat) == 0 || cat[0].SKU == "" {
		t.Errorf("catalog: %v %v", cat, err)
	}

	// Status changes, closing, and what retention reads of them.
	closed := t0.Add(48 * time.Hour)
	inTx(t, db, func(tx *store.Tx) error {
		if err := q.moveNotFinal(ctx, tx, StatusShared, t0.Add(time.Hour), []string{"ord_1", "ord_2"}); err != nil {
			return err
		}
		if err := q.setStatus(ctx, tx, setStatusParams{ID: "ord_1", Status: StatusDelivered, UpdatedAt: closed,
			ClosedAt: store.Time{Time: closed}}); err != nil {
			return err
		}
		return q.close(ctx, tx, closeParams{ID: "ord_2", Status: StatusCancelled, UpdatedAt: closed, ClosedAt: closed.Add(time.Hour),
			Reason: "the customer withdrew"})
	})
	if r, _, _ := q.get(ctx, db.Reader, "ord_2"); r.Status != string(StatusCancelled) || r.CloseReason == nil || *r.CloseReason != "the customer withdrew" {
		t.Errorf("after close: %+v", r)
	}
	if n, err := q.countClosed(ctx, t0, closed.Add(2*time.Hour)); err != nil || n != 2 {
		t.Errorf("countClosed: %d %v", n, err)
	}
	if first, err := q.firstClosed(ctx); err != nil || !first.Equal(closed) {
		t.Errorf("firstClosed: %v %v", first, err)
	}
	page, err := q.closedBetween(ctx, closedBetweenParams{To: closed.Add(2 * time.Hour), Limit: 1})
	if err != nil || len(page) != 1 || page[0].OrderID != "ord_1" || !page[0].Closed.Equal(closed) {
		t.Fatalf("closedBetween, first page: %+v %v", page, err)
	}
	page, err = q.closedBetween(ctx, closedBetweenParams{From: t0, To: closed.Add(2 * time.Hour), After: "ord_1", Limit: 5})
	if err != nil || len(page) != 1 || page[0].OrderID != "ord_2" {
		t.Errorf("closedBetween after a cursor: %+v %v", page, err)
	}
	if open, err := q.openSince(ctx, t0.Add(3*time.Hour)); err != nil || len(open) != 1 || open[0].OrderID != "ord_3" {
		t.Errorf("openSince: %+v %v", open, err)
	}
	if rows, err := q.retentionByID(ctx, db.Reader, []string{"ord_3", "ord_1"}); err != nil || len(rows) != 2 || rows[0].OrderID != "ord_1" {
		t.Errorf("retentionByID: %+v %v", rows, err)
	}

	// Subject lookups by hash and by id.
	if rows, err := q.subjectByHashes(ctx, db.Reader, [][]byte{eh}, nil); err != nil || len(rows) != 1 || rows[0].OrderID != "ord_1" {
		t.Errorf("subjectByHashes by email: %+v %v", rows, err)
	}
	if rows, err := q.subjectByHashes(ctx, db.Reader, nil, [][]byte{ph, {0x00}}); err != nil || len(rows) != 1 || string(rows[0].PhoneHash) != string(ph) {
		t.Errorf("subjectByHashes by phone: %+v %v", rows, err)
	}
	if rows, err := q.subjectByID(ctx, db.Reader, []string{"ord_2", "ord_none"}); err != nil || len(rows) != 1 || !rows[0].OperatorClosed {
		t.Errorf("subjectByID: %+v %v", rows, err)
	}

	// Rectification and re-hashing.
	inTx(t, db, func(tx *store.Tx) error {
		p := plainPersonal("", "new@example.com")
		if err := q.rectify(ctx, tx, rectifyParams{ID: "ord_3", Personal: p, EmailHash: []byte{0xe3}, LookupVersion: 1, UpdatedAt: closed}); err != nil {
			return err
		}
		rows, err := q.toRehash(ctx, tx, "", 2, 10)
		if err != nil || len(rows) != 3 {
			t.Errorf("toRehash: %d rows, %v", len(rows), err)
		}
		return q.rehash(ctx, tx, rehashParams{ID: "ord_3", EmailHash: []byte{0xe4}, ReferenceHash: []byte("ref-3b"), LookupVersion: 2})
	})
	if r, _, _ := q.get(ctx, db.Reader, "ord_3"); r.CustomerEmail != "new@example.com" || string(r.EmailHash) != "\xe4" || len(r.PhoneHash) != 0 {
		t.Errorf("after rectify and rehash: %+v", r)
	}
	if vs, err := q.lookupVersions(ctx); err != nil || !slices.Equal(slices.Sorted(slices.Values(vs)), []uint32{1, 2}) {
		t.Errorf("lookupVersions: %v %v", vs, err)
	}

	// Sealing what a database from before the vault holds plain.
	if rows, err := q.unsealed(ctx); err != nil || len(rows) != 3 {
		t.Errorf("unsealed: %d %v", len(rows), err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		return q.seal(ctx, tx, sealOrderParams{ID: "ord_3", Personal: plainPersonal("PO-3", "sealed@example.com"), LookupVersion: 2,
			ReferenceHash: []byte("ref-3c")})
	})
	if rows, err := q.unsealed(ctx); err != nil || len(rows) != 2 {
		t.Errorf("unsealed after one sealed: %d %v", len(rows), err)
	}
	if ids, err := q.unbound(ctx); err != nil || len(ids) != 0 {
		t.Errorf("unbound (sealed ones are bound): %v %v", ids, err)
	}
	inTx(t, db, func(tx *store.Tx) error { return q.markBound(ctx, tx, "ord_3") })

	// Idempotency keys.
	inTx(t, db, func(tx *store.Tx) error {
		if err := q.putIdempotencyKey(ctx, tx, putIdempotencyParams{ResellerID: "ptn_r", Key: "k1", RequestHash: []byte{1}, OrderID: "ord_1",
			Status: 201, Created: t0, Expires: t0.Add(24 * time.Hour)}); err != nil {
			return err
		}
		row, ok, err := q.idempotencyKey(ctx, tx, "ptn_r", "k1", t0.Add(time.Hour))
		if err != nil || !ok || row.OrderID != "ord_1" || row.Status != 201 {
			t.Errorf("idempotencyKey: %+v %v %v", row, ok, err)
		}
		if _, ok, err := q.idempotencyKey(ctx, tx, "ptn_r", "k1", t0.Add(25*time.Hour)); ok || err != nil {
			t.Errorf("an expired idempotencyKey: %v %v", ok, err)
		}
		n, err := q.purgeIdempotencyKeys(ctx, tx, t0.Add(25*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("purgeIdempotencyKeys: %d %v", n, err)
		}
		return nil
	})

	// Recipients' answers, receipts and the timeline.
	inTx(t, db, func(tx *store.Tx) error {
		if st, err := q.answerStatus(ctx, tx, "ord_1", "ptn_l"); err != nil || st != "" {
			t.Errorf("answerStatus before any: %q %v", st, err)
		}
		if err := q.saveAnswer(ctx, tx, answerParams{OrderID: "ord_1", PartnerID: "ptn_l", Status: StatusShipped,
			EstimatedShipDate: "2026-03-05", Message: "on its way", Carrier: "GLS", TrackingNumber: "T1", UpdatedAt: t0}); err != nil {
			return err
		}
		// A later answer without a carrier keeps the one before.
		if err := q.saveAnswer(ctx, tx, answerParams{OrderID: "ord_1", PartnerID: "ptn_l", Status: StatusDelivered,
			DeliveredAt: store.Time{Time: closed}, UpdatedAt: closed}); err != nil {
			return err
		}
		if st, err := q.answerStatus(ctx, tx, "ord_1", "ptn_l"); err != nil || st != string(StatusDelivered) {
			t.Errorf("answerStatus: %q %v", st, err)
		}
		if err := q.confirmErasure(ctx, tx, "ord_2", "ptn_l", closed); err != nil {
			return err
		}
		if _, ok, err := q.receipt(ctx, tx, "ptn_l", "msg_1"); ok || err != nil {
			t.Errorf("receipt before one: %v %v", ok, err)
		}
		if err := q.insertReceipt(ctx, tx, receiptParams{PartnerID: "ptn_l", WebhookID: "msg_1", ReceivedAt: t0, EventType: "order.shipped",
			OrderID: "ord_1", Status: 200, Body: []byte(`{"ok":true}`)}); err != nil {
			return err
		}
		if r, ok, err := q.receipt(ctx, tx, "ptn_l", "msg_1"); !ok || err != nil || r.Status != 200 || string(r.Body) != `{"ok":true}` {
			t.Errorf("receipt: %+v %v %v", r, ok, err)
		}
		texts, err := q.answerTexts(ctx, tx, "ord_1")
		if err != nil || len(texts) != 1 || deref(texts[0].Carrier) != "GLS" {
			t.Errorf("answerTexts: %+v %v", texts, err)
		}
		if err := q.sealAnswer(ctx, tx, sealAnswerParams{OrderID: "ord_1", PartnerID: "ptn_l", Message: "m2", Carrier: "DAO"}); err != nil {
			return err
		}
		return q.insertEvents(ctx, tx, []eventParams{
			{OrderID: "ord_1", Time: t0, Type: "order.created", Source: "test", To: "received", Outcome: "applied", Details: "{}"},
			{OrderID: "ord_2", Time: t0, Type: "order.shipped", Source: "partner:ptn_l", PartnerID: "ptn_l", From: "cancelled",
				Outcome: "conflict", Details: `{"carrier":"GLS"}`},
		})
	})
	answers, err := q.answers(ctx, db.Reader, []string{"ord_1", "ord_2"})
	if err != nil || len(answers) != 2 || deref(answers[0].Carrier) != "DAO" || deref(answers[0].ShipDate) != "2026-03-05" ||
		!answers[0].DeliveredAt.Equal(closed) || answers[1].ErasedAt.IsZero() {
		t.Errorf("answers: %+v %v", answers, err)
	}
	if counts, err := q.erasureConfirmCounts(ctx, []string{"ord_1", "ord_2"}); err != nil || counts["ptn_l"] != 1 {
		t.Errorf("erasureConfirmCounts: %v %v", counts, err)
	}
	if acks, err := q.erasureAcks(ctx, []string{"ord_2"}); err != nil || len(acks) != 1 || !acks[0].At.Equal(closed) {
		t.Errorf("erasureAcks: %+v %v", acks, err)
	}
	if evs, err := q.events(ctx, "ord_1"); err != nil || len(evs) != 1 || evs[0].To != "received" || evs[0].PartnerID != "" {
		t.Errorf("events: %+v %v", evs, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		conflicts, err := q.conflicts(ctx, tx, 0, 10)
		if err != nil || len(conflicts) != 1 || conflicts[0].OrderID != "ord_2" {
			t.Errorf("conflicts: %+v %v", conflicts, err)
		}
		if older, err := q.conflicts(ctx, tx, conflicts[0].ID, 10); err != nil || len(older) != 0 {
			t.Errorf("conflicts before the only one: %+v %v", older, err)
		}
		texts, err := q.eventTexts(ctx, tx, "ord_2")
		if err != nil || len(texts) != 1 || texts[0].PartnerID != "ptn_l" {
			t.Errorf("eventTexts: %+v %v", texts, err)
		}
		return q.sealEvent(ctx, tx, texts[0].ID, `{"carrier":"sealed"}`)
	})

	// Erasure: the personal columns and the rows around them.
	inTx(t, db, func(tx *store.Tx) error {
		erased, err := q.erase(ctx, tx, closed, []string{"ord_1", "ord_none"})
		if err != nil || !slices.Equal(erased, []string{"ord_1"}) {
			t.Errorf("erase: %v %v", erased, err)
		}
		if again, err := q.erase(ctx, tx, closed, []string{"ord_1"}); err != nil || len(again) != 0 {
			t.Errorf("erase twice: %v %v", again, err)
		}
		return q.eraseRelated(ctx, tx, []string{"ord_1"})
	})
	if r, _, _ := q.get(ctx, db.Reader, "ord_1"); r.CustomerEmail != "" || r.Reference != "erased:ord_1" || r.ErasedAt.IsZero() || r.EmailHash != nil {
		t.Errorf("after erase: %+v", r)
	}
	if answers, _ := q.answers(ctx, db.Reader, []string{"ord_1"}); len(answers) != 1 || answers[0].Carrier != nil || answers[0].Message != nil {
		t.Errorf("answers after erase: %+v", answers)
	}
	if evs, _ := q.events(ctx, "ord_1"); len(evs) != 1 || evs[0].Details != "{}" {
		t.Errorf("events after erase: %+v", evs)
	}
}

// holdings: what a breach counts, relative to a window starting at from
// and ending at to: an order taken after to is not read; erasures and
// recipients' acknowledgements are placed before or since from.
func TestStoreHoldings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := twoPartners(t)
	q := orderRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	from, to := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	inTx(t, db, func(tx *store.Tx) error {
		for i, id := range []string{"ord_1", "ord_2", "ord_3", "ord_4"} {
			p := insertOrderParams{ID: id, ResellerID: "ptn_r", Status: StatusReceived, Personal: plainPersonal("PO-"+id, id+"@example.com"),
				CreatedAt: t0.Add(time.Duration(i) * 20 * time.Hour), UpdatedAt: t0, ReferenceHash: []byte("ref-" + id), LookupVersion: 1,
				EmailHash: []byte(id + "-hash-of-the-email"), Country: "DK"}
			if i == 1 {
				p.Country = ""
			}
			if ok, err := q.insert(ctx, tx, p); err != nil || !ok {
				return fmt.Errorf("insert %s: %v %v", id, ok, err)
			}
		}
		// ord_1 erased here before the window, ord_2 since its start; the
		// recipient acknowledged ord_1's erasure before, ord_3's since.
		if _, err := q.erase(ctx, tx, from.Add(-time.Hour), []string{"ord_1"}); err != nil {
			return err
		}
		if _, err := q.erase(ctx, tx, from.Add(time.Hour), []string{"ord_2"}); err != nil {
			return err
		}
		if err := q.confirmErasure(ctx, tx, "ord_1", "ptn_l", from.Add(-time.Minute)); err != nil {
			return err
		}
		return q.confirmErasure(ctx, tx, "ord_3", "ptn_l", from)
	})
	got := map[string]string{}
	acks, err := q.acks(ctx, "ptn_l", from)
	if err != nil || !maps.Equal(acks, map[string]Moment{"ord_1": Before, "ord_3": Since}) {
		t.Errorf("acks at ptn_l: %v %v", acks, err)
	}
	err = q.holdings(ctx, from, to, func(h Holding) error {
		got[h.OrderID] = fmt.Sprintf("%v|%s|%d|%d", h.Person == fingerprint([]byte(h.OrderID+"-hash-of-the-email")), h.Country, h.Erased, acks[h.OrderID])
		return nil
	})
	// ord_4 was taken at t0+60h, after the window.
	want := map[string]string{"ord_1": "false||2|2", "ord_2": "false||1|0", "ord_3": "true|DK|0|1"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("holdings at ptn_l: %v %v, want %v", got, err, want)
	}
	clear(got)
	if acks, err := q.acks(ctx, "ptn_none", from); err != nil || len(acks) != 0 {
		t.Errorf("acks of a partner without any: %v %v", acks, err)
	}
}
