package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// importLegacy adds the legacy partners and imports the sample file.
func importLegacy(t *testing.T, e *testEnv) []string {
	t.Helper()
	ctx := context.Background()
	for _, p := range []partners.NewPartner{
		{ID: "ptn_legacy_reseller", Kind: partners.KindReseller, Name: "Legacy"},
		{ID: "ptn_legacy_logistics", Kind: partners.KindLogistics, Name: "L", EndpointURL: "http://127.0.0.1:9/"},
		{ID: "ptn_legacy_maker", Kind: partners.KindManufacturer, Name: "M", EndpointURL: "http://127.0.0.1:9/"},
	} {
		if _, _, err := e.app.Partners.Add(ctx, "test", p); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("../../testdata/import/legacy-orders.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.app.Orders.Import(ctx, "test", data, false)
	if err != nil || rep.Imported != 23 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	return rep.OrderIDs
}

func TestInterruptedPurgeResumesAndRunsAreIdempotent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	importLegacy(t, e)
	ctx := context.Background()
	// A run that was started and then lost its process.
	id, err := e.app.Purger.Start(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Purger.Start(ctx, "test"); err == nil {
		t.Fatal("a second run started while one is running")
	}
	if err := e.app.Purger.ResumeInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := e.app.Purger.Get(ctx, id)
	if err != nil || run.Status != "completed" || run.Counts.Erased != 8 {
		t.Fatalf("resumed run: %+v %v", run, err)
	}
	// Resuming a finished run, or running again, erases nothing more.
	if err := e.app.Purger.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	again, err := e.app.Purger.PurgeNow(ctx, "test")
	if err != nil || again.Counts.Erased != 0 || again.Digest != retention.Digest(nil) {
		t.Fatalf("second run: %+v %v", again, err)
	}
	es, _ := e.app.Audit.ByOrder(ctx, run.OrderIDs[0], 100)
	var erased int
	for _, en := range es {
		if en.Action == "order.erased" {
			erased++
		}
	}
	if erased != 1 {
		t.Errorf("order.erased recorded %d times, want once", erased)
	}
}

func TestHoldNeedsAReasonAndIsAudited(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ids := importLegacy(t, e)
	r := e.do(t, "POST", "/v1/orders/"+ids[0]+"/hold", e.admin, strings.NewReader(`{"reason":""}`))
	if r.status != 422 {
		t.Errorf("empty reason: %d", r.status)
	}
	r = e.do(t, "POST", "/v1/orders/"+ids[0]+"/hold", e.admin, strings.NewReader(`{"reason":"litigation: customer Jane v. Example"}`))
	if r.status != 200 || r.json(t)["legal_hold"] == nil {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/orders/"+ids[0]+"/hold", e.keyA, strings.NewReader(`{"reason":"x"}`)); r.status != 403 {
		t.Errorf("reseller places a hold: %d", r.status)
	}
	es, _ := e.app.Audit.ByOrder(context.Background(), ids[0], 100)
	found := false
	for _, en := range es {
		if en.Action == "order.hold_placed" {
			found = true
			if strings.Contains(en.Details["reason_sha256"], "Jane") || len(en.Details["reason_sha256"]) != 64 {
				t.Errorf("hold entry %+v", en.Details)
			}
		}
	}
	if !found {
		t.Error("hold not audited")
	}
	if r := e.do(t, "POST", "/v1/orders/"+ids[0]+"/release", e.admin, nil); r.status != 200 || r.json(t)["legal_hold"] != nil {
		t.Errorf("release: %d %s", r.status, r.body)
	}
}

func TestAdministrativeReadIsAudited(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := e.submit(t, e.keyA, sampleOrder(t))["id"].(string)
	if r := e.do(t, "GET", "/v1/admin/orders/"+id, e.keyA, nil); r.status != 403 {
		t.Errorf("reseller on the admin route: %d", r.status)
	}
	r := e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "jane@example.dk") {
		t.Fatalf("admin view: %d %s", r.status, r.body)
	}
	es, _ := e.app.Audit.ByOrder(context.Background(), id, 100)
	viewed := 0
	for _, en := range es {
		if en.Action == "order.viewed" && strings.HasPrefix(en.Actor, "key:") {
			viewed++
		}
	}
	if viewed != 1 {
		t.Errorf("%d order.viewed entries, want 1", viewed)
	}
}

// TestPurgeRunHasOneCarrier: on PostgreSQL a run another instance carries
// (its lease held) is left alone by ResumeInterrupted, and taken up and
// finished once that instance is gone (its lease freed, as its dead
// connection frees it).
func TestPurgeRunHasOneCarrier(t *testing.T) {
	t.Parallel()
	if storetest.Engine() != store.PostgreSQL {
		t.Skip("PostgreSQL only: one process serves a SQLite database")
	}
	e := newTestEnv(t)
	importLegacy(t, e)
	ctx := context.Background()
	id, err := e.app.Purger.Start(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	// The other instance: its own connection holding the run's lease.
	other, err := store.Open(ctx, e.app.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lease, err := other.TryLease(ctx, "purge-run:"+id)
	if err != nil || lease == nil {
		t.Fatalf("the other instance's lease: %v %v", lease, err)
	}
	if err := e.app.Purger.ResumeInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if run, err := e.app.Purger.Get(ctx, id); err != nil || run.Status != "running" || run.Counts.Erased != 0 {
		t.Fatalf("a run another instance carries was taken over: %+v %v", run, err)
	}
	lease.Release()
	if err := e.app.Purger.ResumeInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if run, err := e.app.Purger.Get(ctx, id); err != nil || run.Status != "completed" || run.Counts.Erased != 8 {
		t.Fatalf("the orphaned run: %+v %v", run, err)
	}
}
