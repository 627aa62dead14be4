package orderstest

import (
	"context"
	"testing"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store/storetest"
)

// The rows written are orders the service reads as its own, on both
// engines.
func TestWrittenOrdersAreReadLikeTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	p, _, err := (&partners.Store{DB: db}).Add(ctx, "test", partners.NewPartner{Kind: partners.KindReseller, Name: "R"})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteClosed(ctx, db, 30, p.ID); err != nil {
		t.Fatal(err)
	}
	rows, err := (&orders.Service{DB: db}).ClosedBetween(ctx, time.Time{}, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "", 100)
	if err != nil || len(rows) != 30 {
		t.Fatalf("%d closed orders read back (%v), want 30", len(rows), err)
	}
}
