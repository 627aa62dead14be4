package keys

import (
	"context"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of secretRows: every method, against the engine
// this half of the suite runs on (make test runs it on both).
func TestStoreSecretRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	q := secretRows{}
	if _, ok, err := q.get(ctx, db.Reader, SecretKeyring); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	put := func(name string, sealed []byte, v uint32) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *store.Tx) error { return q.put(ctx, tx, name, sealed, v, t0) }); err != nil {
			t.Fatal(err)
		}
	}
	put(SecretKeyring, []byte{1, 2, 3}, 1)
	put(SecretAuditKey, []byte{4}, 1)
	// Putting again replaces the row.
	put(SecretKeyring, []byte{5, 6}, 2)
	row, ok, err := q.get(ctx, db.Reader, SecretKeyring)
	if err != nil || !ok || string(row.Sealed) != string([]byte{5, 6}) || row.RootVersion != 2 {
		t.Errorf("get: %+v %v %v", row, ok, err)
	}
	var inTx secretRow
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		inTx, _, err = q.get(ctx, tx, SecretAuditKey)
		return err
	}); err != nil || string(inTx.Sealed) != string([]byte{4}) {
		t.Errorf("get in a transaction: %+v %v", inTx, err)
	}
	vs, err := q.versions(ctx, db.Reader)
	if err != nil || len(vs) != 2 || vs[SecretKeyring] != 2 || vs[SecretAuditKey] != 1 {
		t.Errorf("versions: %v %v", vs, err)
	}
}
