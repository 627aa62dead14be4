package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRotatingTheLookupKeyHashesEveryOrderAgainAndUnlinksOldBackups(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	ctx := context.Background()
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	b := e.order(t, e.keyB, "PO-B", "jane@example.dk", "+4533123456")
	e.order(t, e.keyA, "PO-C", "anna@example.dk", "+4522222222")
	e.shared(t, a, b)
	access := e.request(t, `{"type":"access","email":"jane@example.dk"}`)["id"].(string)
	restriction := e.request(t, `{"type":"restriction","email":"jane@example.dk"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+restriction+"/restrict", e.privacy, nil); r.status != 200 {
		t.Fatalf("restrict: %d %s", r.status, r.body)
	}
	var old []byte
	if err := e.app.DB.Reader.Get(&old, `SELECT email_hash FROM orders WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}

	// A new lookup key, before the orders are hashed again: a duplicate
	// reference among orders hashed with the old key is still refused.
	if _, err := e.app.Keyring.RotateLookup(e.app.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(sampleOrder(t, withRef("PO-A")))); r.status != 409 {
		t.Errorf("a duplicate reference during the rotation: %d %s", r.status, r.body)
	}
	res, err := e.app.Keys.RotateLookup(ctx, "test", 0)
	if err != nil || res.Rehashed != 3 || res.Version != 3 {
		t.Fatalf("rotate lookup: %+v %v", res, err)
	}
	var now []byte
	if err := e.app.DB.Reader.Get(&now, `SELECT email_hash FROM orders WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old, now) {
		t.Fatal("the order was not hashed again")
	}
	// Lookups, old requests and restrictions go on as before.
	if got := ids(e.request(t, `{"type":"access","email":"jane@example.dk","phone":"+4533123456"}`)["orders"]); strings.Join(got, ",") != a+","+b {
		t.Errorf("a new request finds %v", got)
	}
	if got := ids(e.do(t, "GET", "/v1/subject-requests/"+access, e.privacy, nil).json(t)["orders"]); strings.Join(got, ",") != a+","+b {
		t.Errorf("an older request now shows %v", got)
	}
	n := e.order(t, e.keyB, "PO-N", "jane@example.dk", "+4540404040")
	time.Sleep(300 * time.Millisecond)
	if got := e.carrierSink.eventsFor(n); len(got) != 0 {
		t.Errorf("the restriction no longer holds the person's new order: %v", got)
	}
	// Nothing uses the old keys now: pruning destroys them, and the old
	// hashes (in any backup) can no longer be tested against guesses.
	e.app.Keys.BackupRetention = 0
	if _, err := e.app.Keys.Prune(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if retired := e.app.Keyring.RetiredLookup(); len(retired) != 0 {
		t.Errorf("retired lookup keys still held: %v", retired)
	}
	for _, h := range e.app.Keyring.Hashes("email", "jane@example.dk") {
		if bytes.Equal(h, old) {
			t.Error("a key that made the old hash is still held")
		}
	}
	if audit := auditText(t, e.testEnv); !strings.Contains(audit, "keyring.lookup_rotated") || !strings.Contains(audit, "keyring.lookup_pruned") {
		t.Error("the rotation and the pruning are not in the audit trail")
	}
}
