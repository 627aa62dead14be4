package main

import (
	"context"
	"testing"

	"github.com/milestone/husky/partners"
)

// The dispatcher hands an order to orders after its own transaction
// commits; a crash in between leaves the order "received" with every
// delivery done. The reconciliation at start (and hourly) moves it.
func TestOrdersWhoseSharingFinishedUnnoticedAreSharedByTheReconciliation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	sink := newHookSink(t)
	if _, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier",
		EndpointURL: sink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	status := func(id string) string {
		return e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil).json(t)["status"].(string)
	}
	// As if the process died right after the dispatcher's commit.
	e.app.Dispatcher.Lifecycle = nil
	id := e.submit(t, e.keyA, sampleOrder(t))["id"].(string)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	waitUntil(t, "the disclosure", func() bool { return sink.count() >= 1 })
	stop()
	<-done
	if got := status(id); got != "received" {
		t.Fatalf("status %q before the reconciliation, want received: nothing is tested", got)
	}
	n, err := e.app.ReconcileShared(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reconcile: %d, %v; want 1", n, err)
	}
	if got := status(id); got != "shared" {
		t.Errorf("status %q after the reconciliation, want shared", got)
	}
	// Once shared, nothing is left to reconcile.
	if n, err := e.app.ReconcileShared(ctx); err != nil || n != 0 {
		t.Errorf("second reconcile: %d, %v; want 0", n, err)
	}
}
