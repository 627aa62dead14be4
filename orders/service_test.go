package orders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

func newService(t *testing.T, hooks ...Hook) (*Service, *store.DB) {
	t.Helper()
	db := storetest.Open(t)
	ps := &partners.Store{DB: db, Clock: time.Now}
	for _, id := range []string{"ptn_a", "ptn_b"} {
		if _, _, err := ps.Add(context.Background(), "test", partners.NewPartner{ID: id, Kind: partners.KindReseller, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	return &Service{DB: db, Hooks: hooks}, db
}

func create(t *testing.T, s *Service, reseller, ref, key string) (Created, error) {
	t.Helper()
	b := body(t, func(m map[string]any) { m["reference"] = ref })
	d, err := s.Decode(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return s.Create(context.Background(), CreateRequest{ResellerID: reseller, Actor: "test", Draft: d, IdempotencyKey: key, Body: b})
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Reader.Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateStoresAndReadsBack(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	c, err := create(t, s, "ptn_a", "PO-1", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "ptn_a", c.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reference != "PO-1" || got.Status != StatusReceived || got.Customer.Phone != "+4533123456" ||
		got.ShipTo.City != "Brøndby" || len(got.Items) != 1 || got.Items[0].Quantity != 2 {
		t.Errorf("read back %+v", got)
	}
	if !got.CreatedAt.Equal(c.Order.CreatedAt) {
		t.Errorf("created_at %v, stored %v", c.Order.CreatedAt, got.CreatedAt)
	}
}

func TestGetHidesOtherResellersOrders(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	c, err := create(t, s, "ptn_a", "PO-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), "ptn_b", c.Order.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("other reseller's Get: %v, want ErrNotFound", err)
	}
	if _, err := s.Cancel(context.Background(), "ptn_b", "test", c.Order.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("other reseller's Cancel: %v, want ErrNotFound", err)
	}
}

func TestCreateRefusesDuplicateReference(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	first, err := create(t, s, "ptn_a", "PO-1", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = create(t, s, "ptn_a", "PO-1", "")
	d := api.From(err)
	if d.Status != http.StatusConflict || d.Location != "/v1/orders/"+first.Order.ID {
		t.Errorf("duplicate: %+v", d)
	}
	// Another reseller may use the same reference.
	if _, err := create(t, s, "ptn_b", "PO-1", ""); err != nil {
		t.Errorf("other reseller, same reference: %v", err)
	}
	if n := count(t, db, "orders"); n != 2 {
		t.Errorf("%d orders stored, want 2", n)
	}
}

func TestIdempotencyKeyReplaysAndRefusesOtherBody(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	first, err := create(t, s, "ptn_a", "PO-1", "key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := create(t, s, "ptn_a", "PO-1", "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Order.ID != first.Order.ID {
		t.Errorf("retry: replayed=%v id=%s, want the first order %s", again.Replayed, again.Order.ID, first.Order.ID)
	}
	_, err = create(t, s, "ptn_a", "PO-2", "key-1")
	if !errors.Is(err, ErrIdempotencyReuse) {
		t.Errorf("same key, other body: %v", err)
	}
	// Keys are per reseller.
	if c, err := create(t, s, "ptn_b", "PO-1", "key-1"); err != nil || c.Replayed {
		t.Errorf("other reseller's key: %v replayed=%v", err, c.Replayed)
	}
	if n := count(t, db, "orders"); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
}

func TestIdempotencyKeysExpireAfter24Hours(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.Clock = func() time.Time { return now }
	if _, err := create(t, s, "ptn_a", "PO-1", "key-1"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(IdempotencyTTL + time.Second)
	if _, err := create(t, s, "ptn_a", "PO-2", "key-1"); err != nil {
		t.Errorf("expired key reused with another body: %v", err)
	}
	now = now.Add(IdempotencyTTL + time.Second)
	n, err := s.PurgeExpiredIdempotencyKeys(context.Background())
	if err != nil || n != 1 || count(t, db, "idempotency_keys") != 0 {
		t.Errorf("purge: n=%d err=%v", n, err)
	}
}

type failingHook struct{}

func (failingHook) OrderChanged(context.Context, *store.Tx, Change) error {
	return fmt.Errorf("outbox unavailable")
}

func TestFailedHookLeavesNothing(t *testing.T) {
	t.Parallel()
	s, db := newService(t, failingHook{})
	if _, err := create(t, s, "ptn_a", "PO-1", "key-1"); err == nil {
		t.Fatal("create succeeded although the hook failed")
	}
	for _, table := range []string{"orders", "order_items", "idempotency_keys"} {
		if n := count(t, db, table); n != 0 {
			t.Errorf("%s has %d rows after a failed transaction", table, n)
		}
	}
}

func TestListPagesNewestFirstAndFiltersByStatus(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		c, err := create(t, s, "ptn_a", fmt.Sprintf("PO-%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.Order.ID)
	}
	if _, err := create(t, s, "ptn_b", "PO-X", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, "ptn_a", "test", ids[1]); err != nil {
		t.Fatal(err)
	}
	var seen []string
	after := ""
	for {
		page, more, err := s.List(ctx, ListFilter{ResellerID: "ptn_a", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			seen = append(seen, o.ID)
		}
		if !more {
			break
		}
		after = page[len(page)-1].ID
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("pages: %v, want %v", seen, want)
	}
	cancelled, _, err := s.List(ctx, ListFilter{ResellerID: "ptn_a", Status: StatusCancelled, Limit: 10})
	if err != nil || len(cancelled) != 1 || cancelled[0].ID != ids[1] {
		t.Errorf("status filter: %v %v", cancelled, err)
	}
}

func TestCancelOnlyBeforeShipping(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	c, err := create(t, s, "ptn_a", "PO-1", "")
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Cancel(ctx, "ptn_a", "test", c.Order.ID)
	if err != nil || o.Status != StatusCancelled || o.ClosedAt == nil {
		t.Fatalf("cancel: %+v %v", o, err)
	}
	if o, err := s.Cancel(ctx, "ptn_a", "test", c.Order.ID); err != nil || o.Status != StatusCancelled {
		t.Errorf("second cancel: %v", err)
	}
	shipped, err := create(t, s, "ptn_a", "PO-2", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer.Exec(`UPDATE orders SET status = 'shipped' WHERE id = $1`, shipped.Order.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, "ptn_a", "test", shipped.Order.ID); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("cancel shipped: %v, want ErrNotCancellable", err)
	}
}
