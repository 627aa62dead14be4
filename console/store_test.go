package console

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of sessions: every method, against the engine this
// half of the suite runs on (make test runs it on both), with what each
// must read back.
func TestStoreSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	q := sessions{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	open := func(hash []byte, at time.Time) {
		t.Helper()
		err := db.Tx(ctx, func(tx *store.Tx) error {
			return q.open(ctx, tx, newSession{TokenHash: hash, KeyID: "key_1", Role: partners.RolePrivacy, CSRF: "c", At: at},
				at.Add(-15*time.Minute))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	open(a, t0)
	s, ok, err := q.get(ctx, a)
	if err != nil || !ok || s.KeyID != "key_1" || s.Role != partners.RolePrivacy || s.CSRF != "c" || !s.lastSeen.Equal(t0) {
		t.Errorf("get: %+v %v %v", s, ok, err)
	}
	if err := q.touch(ctx, a, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := q.get(ctx, a); !s.lastSeen.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("touch: %+v", s)
	}
	// Opening a session ends those idle for longer than the limit.
	open(b, t0.Add(30*time.Minute))
	if _, ok, err := q.get(ctx, a); ok || err != nil {
		t.Errorf("an idle session outlived the next sign-in: %v %v", ok, err)
	}
	if err := q.end(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := q.get(ctx, b); ok || err != nil {
		t.Errorf("an ended session: %v %v", ok, err)
	}
}
