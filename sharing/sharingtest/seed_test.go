package sharingtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The rows written are deliveries the service reads as its own, on both
// engines.
func TestWrittenDeliveriesAreReadLikeTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := "2026-01-01T00:00:00.000000Z"
	history, a, b := recipients(t)
	if err := WriteHistory(ctx, history, 20, a, b, []byte(`{}`), at); err != nil {
		t.Fatal(err)
	}
	dead, _, err := (&sharing.Deliveries{DB: history}).List(ctx, sharing.ListFilter{Status: sharing.StatusDead, Limit: 100})
	if err != nil || len(dead) != 2 {
		t.Fatalf("%d dead of 20 (%v), want 2", len(dead), err)
	}
	backlog, a, b := recipients(t)
	if err := WriteBacklog(ctx, backlog, 7, a, b, []byte(`{}`), at); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := (&sharing.Deliveries{DB: backlog}).Backlog(ctx); err != nil || n != 7 || oldest.IsZero() {
		t.Fatalf("backlog %d since %v (%v), want 7", n, oldest, err)
	}
	disclosed, a, _ := recipients(t)
	orderstest.Closed(t, disclosed, 5)
	if err := WriteDisclosures(ctx, disclosed, 5, a, "phone,address", at, "dla_"); err != nil {
		t.Fatal(err)
	}
	held := map[string]string{}
	err = (&sharing.Deliveries{DB: disclosed}).HeldBy(ctx, a, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), func(id, fields string, imported bool) error {
		held[id] = fields
		return nil
	})
	if err != nil || len(held) != 5 || held[orderstest.ClosedID(5)] != "phone,address" {
		t.Fatalf("disclosures read back: %v %v", held, err)
	}
}

// recipients returns a new database with two recipients.
func recipients(t *testing.T) (*store.DB, string, string) {
	t.Helper()
	db := storetest.Open(t)
	ring, err := keyring.Load(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	ps := &partners.Store{DB: db, AllowPrivateEndpoints: true, Sealer: ring}
	var ids []string
	for _, kind := range []partners.Kind{partners.KindLogistics, partners.KindManufacturer} {
		p, _, err := ps.Add(context.Background(), "test", partners.NewPartner{Kind: kind, Name: string(kind), EndpointURL: "https://example.com/hook"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return db, ids[0], ids[1]
}
