package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

func newVault(t *testing.T) (*Vault, *store.DB) {
	t.Helper()
	k, err := keyring.Load(filepath.Join(t.TempDir(), "husky.keys"))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t)
	return &Vault{DB: db, Keyring: k}, db
}

func create(t *testing.T, v *Vault, db *store.DB, ids ...string) map[string]*Key {
	t.Helper()
	out := map[string]*Key{}
	err := db.Tx(context.Background(), func(tx *store.Tx) error {
		for _, id := range ids {
			k, err := v.Create(context.Background(), tx, id)
			if err != nil {
				return err
			}
			out[id] = k
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealedValuesOpenOnlyWithTheirOrderAndPurpose(t *testing.T) {
	t.Parallel()
	v, db := newVault(t)
	ks := create(t, v, db, "ord_a", "ord_b")
	a, b := ks["ord_a"], ks["ord_b"]

	ct := a.SealString("jane@example.com", "email")
	if bytes.Contains(ct, []byte("jane")) || !IsSealed(ct) {
		t.Fatalf("sealed value %q", ct)
	}
	if got, err := a.OpenString(ct, "email"); err != nil || got != "jane@example.com" {
		t.Fatalf("open: %q, %v", got, err)
	}
	// The same key read back from the table opens it too.
	again, err := v.Get(context.Background(), db.Reader, "ord_a")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.OpenString(ct, "email"); err != nil || got != "jane@example.com" {
		t.Fatalf("open with the stored key: %q, %v", got, err)
	}
	if _, err := a.Open(ct, "phone"); err == nil {
		t.Error("a value sealed as an email opened as a phone")
	}
	if _, err := b.Open(ct, "email"); err == nil {
		t.Error("another order's key opened the value")
	}
	if a.Seal(nil, "notes") != nil {
		t.Error("the empty value was not kept empty")
	}
	// A plain value where only sealed ones belong is refused, never served.
	if got, err := a.OpenString([]byte("plain"), "notes"); !errors.Is(err, ErrNotSealed) || got != "" {
		t.Errorf("an unsealed value came back as %q, %v", got, err)
	}
}

func TestDestroyedKeysAreGoneAndOthersStay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, db := newVault(t)
	create(t, v, db, "ord_a", "ord_b", "ord_c")
	err := db.Tx(ctx, func(tx *store.Tx) error { return v.Destroy(ctx, tx, []string{"ord_a", "ord_c"}) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get(ctx, db.Reader, "ord_a"); !errors.Is(err, ErrNoKey) {
		t.Errorf("destroyed key: err %v, want ErrNoKey", err)
	}
	got, err := v.GetMany(ctx, db.Reader, []string{"ord_a", "ord_b", "ord_c", "ord_b"})
	if err != nil || len(got) != 1 || got["ord_b"] == nil {
		t.Errorf("keys left: %v, %v; want only ord_b", got, err)
	}
}

func TestRewrapMovesEveryKeyToTheCurrentVersionInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, db := newVault(t)
	ids := []string{"o1", "o2", "o3", "o4", "o5"}
	before := create(t, v, db, ids...)
	ct := before["o3"].SealString("+4512345678", "phone")
	old := v.Keyring.Current()
	if _, err := v.Keyring.Rotate(time.Now()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		n, err := v.Rewrap(ctx, db, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n > 2 {
			t.Fatalf("a batch of 2 re-wrapped %d keys", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != len(ids) {
		t.Errorf("re-wrapped %d keys, want %d", total, len(ids))
	}
	versions, err := v.Versions(ctx, db.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if versions[old] != 0 || versions[v.Keyring.Current()] != len(ids) {
		t.Errorf("versions after re-wrap: %v", versions)
	}
	// Re-wrapped, not replaced: what was sealed still opens.
	k, err := v.Get(ctx, db.Reader, "o3")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.OpenString(ct, "phone"); err != nil || got != "+4512345678" {
		t.Errorf("after re-wrap: %q, %v", got, err)
	}
	// Nothing wraps the old version now, so pruning may take it.
	if res, err := v.Check(ctx, db.Reader, 2); err != nil || res.Bad != 0 || res.Keys != len(ids) {
		t.Errorf("check: %+v, %v", res, err)
	}
}

func TestCheckNamesVersionsTheKeyringCannotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, db := newVault(t)
	create(t, v, db, "ord_a")
	other, err := keyring.Load(filepath.Join(t.TempDir(), "other.keys"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Vault{DB: db, Keyring: other}).Check(ctx, db.Reader, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bad != 1 || len(res.Versions) != 1 || res.Versions[0] != v.Keyring.Current() {
		t.Errorf("another keyring: %+v, want one bad key of version %d", res, v.Keyring.Current())
	}
	if _, err := (&Vault{DB: db, Keyring: other}).Get(ctx, db.Reader, "ord_a"); err == nil {
		t.Error("another keyring opened the data key")
	}
}

func TestCheckOpensEveryKeyNotASample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, db := newVault(t)
	for i := range 25 {
		create(t, v, db, fmt.Sprintf("ord_%02d", i))
	}
	// One key of the version, not the first, no longer opens (altered in
	// the file, or wrapped by another keyring under the same version).
	var wrapped []byte
	if err := db.Reader.Get(&wrapped, `SELECT wrapped FROM data_keys WHERE order_id = 'ord_17'`); err != nil {
		t.Fatal(err)
	}
	wrapped[len(wrapped)-1] ^= 1
	if _, err := db.Writer.Exec(`UPDATE data_keys SET wrapped = $1 WHERE order_id = 'ord_17'`, wrapped); err != nil {
		t.Fatal(err)
	}
	res, err := v.Check(ctx, db.Reader, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 25 || res.Bad != 1 {
		t.Errorf("check: %+v, want 1 bad of 25", res)
	}
}
