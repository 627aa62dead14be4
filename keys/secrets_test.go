package keys

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store/storetest"
)

func newRoot(t *testing.T) *keyring.Root {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.key")
	if err := keyring.InitRoot(path); err != nil {
		t.Fatal(err)
	}
	r, err := keyring.LoadRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Instances that share a database and a root key share one keyring and one
// audit key: the first starts create them (once, however many start at
// once), a rotation by one is read by the others, and the row holds them
// only sealed.
func TestInstancesShareTheKeyringThroughTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	root := newRoot(t)
	src := DBSource{DB: db, Root: root, Secret: SecretKeyring}
	rings := make([]*keyring.Keyring, 4)
	keys := make([]audit.Key, 4)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range rings {
		wg.Go(func() {
			if rings[i], errs[i] = keyring.Open(src); errs[i] == nil {
				keys[i], errs[i] = audit.OpenKey(DBSource{DB: db, Root: root, Secret: SecretAuditKey})
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if rings[i].ID() != rings[0].ID() || keys[i].Public != keys[0].Public {
			t.Fatalf("four first starts made more than one keyring or audit key: %q %q", rings[i].ID(), rings[0].ID())
		}
	}
	a, b := rings[0], rings[1]
	sealed, _ := a.Seal([]byte("secret"), []byte("aad"))
	if v, err := a.Rotate(time.Now()); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	if changed, err := b.Reload(); err != nil || !changed || b.Current() != 2 {
		t.Fatalf("the other instance's reload: %v %v, current %d", changed, err, b.Current())
	}
	if got, err := b.Open(sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Errorf("open after rotation: %q %v", got, err)
	}
	row, _, err := secretRows{}.get(ctx, db.Reader, SecretKeyring)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"master_keys", "lookup_key", "kr_"} {
		if bytes.Contains(row.Sealed, []byte(v)) {
			t.Errorf("the keyring's row holds %q in plain text", v)
		}
	}
	if row.RootVersion != 1 {
		t.Errorf("root version %d", row.RootVersion)
	}
	// Another installation's root key opens nothing.
	if _, err := keyring.Open(DBSource{DB: db, Root: newRoot(t), Secret: SecretKeyring}); !errors.Is(err, keyring.ErrCorrupt) {
		t.Errorf("opened with another root key: %v", err)
	}
}

// Erasure reaches the database's backups once the keyring lives there:
// a backup holds the keyring's row as it was, with master key versions
// pruned since, and opens them while the root key version that sealed
// it exists. Rotating the root key and destroying the old version after
// the backup retention (PruneRoot) leaves such a backup nothing to open.
func TestPruningTheRootKeyLeavesOldBackupsNothingToOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	root := newRoot(t)
	src := DBSource{DB: db, Root: root, Secret: SecretKeyring}
	ring, err := keyring.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenKey(DBSource{DB: db, Root: root, Secret: SecretAuditKey}); err != nil {
		t.Fatal(err)
	}
	erased, _ := ring.Seal([]byte("an erased order's data key"), []byte("order-1"))
	backup, _, err := secretRows{}.get(ctx, db.Reader, SecretKeyring)
	if err != nil {
		t.Fatal(err)
	}
	// The master key that sealed it is rotated and, past the retention,
	// destroyed in the live keyring.
	t0 := time.Now().Add(-48 * time.Hour)
	if _, err := ring.Rotate(t0); err != nil {
		t.Fatal(err)
	}
	if gone, err := ring.Prune(time.Now(), nil); err != nil || len(gone) != 1 {
		t.Fatalf("prune master keys: %v %v", gone, err)
	}
	if _, err := ring.Open(erased, []byte("order-1")); !errors.Is(err, keyring.ErrUnknownVersion) {
		t.Fatalf("the live keyring still opens the erased key: %v", err)
	}
	// The backup's row still holds version 1, and the root key opens it.
	old := DBSource{DB: db, Root: root, Secret: SecretKeyring}
	plain, err := old.open(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte(`"version": 1`)) {
		t.Fatal("the backup's keyring does not hold version 1: the test proves nothing")
	}
	// The operator rotates the root key; the old version is kept while
	// backups may need it...
	if _, err := keyring.RotateRoot(root.Path(), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Reload(); err != nil {
		t.Fatal(err)
	}
	if gone, err := PruneRoot(ctx, db, root, t0.Add(-time.Hour), time.Now); err != nil || len(gone) != 0 {
		t.Fatalf("prune-root before the retention: %v %v", gone, err)
	}
	use, err := secretRows{}.versions(ctx, db.Reader)
	if err != nil || use[SecretKeyring] != 2 || use[SecretAuditKey] != 2 {
		t.Fatalf("the secrets are not sealed under the new root version: %v %v", use, err)
	}
	// ...and destroyed after it.
	if gone, err := PruneRoot(ctx, db, root, time.Now(), time.Now); err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("prune-root: %v %v", gone, err)
	}
	if _, err := old.open(backup); !errors.Is(err, keyring.ErrUnknownVersion) {
		t.Errorf("the old backup's keyring still opens: %v", err)
	}
	// The live service is untouched.
	if _, err := ring.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Open(src); err != nil {
		t.Errorf("the live keyring after prune-root: %v", err)
	}
	if _, err := audit.OpenKey(DBSource{DB: db, Root: root, Secret: SecretAuditKey}); err != nil {
		t.Errorf("the audit key after prune-root: %v", err)
	}
}

// A file keyring is imported once; the same file again is a no-op, and
// another one is refused.
func TestImportTakesOneKeyringAndRefusesAnother(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	src := DBSource{DB: db, Root: newRoot(t), Secret: SecretAuditKey}
	first, _ := audit.NewKeyText()
	if ok, err := src.Import(first); err != nil || !ok {
		t.Fatalf("import: %v %v", ok, err)
	}
	if ok, err := src.Import(first); err != nil || ok {
		t.Errorf("import again: %v %v", ok, err)
	}
	other, _ := audit.NewKeyText()
	if _, err := src.Import(other); err == nil || !strings.Contains(err.Error(), "already holds a different") {
		t.Errorf("import of another key: %v", err)
	}
	got, err := src.Read()
	if err != nil || !bytes.Equal(got, first) {
		t.Errorf("read: %v", err)
	}
}
