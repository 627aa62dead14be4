package keyring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The root key file: created once owner-only and never over another,
// versions added and destroyed by an operator, read by the service
// without writing it.
func TestTheRootKeyFileIsCreatedRotatedAndPruned(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "root.key")
	if _, err := LoadRoot(path); err == nil || !strings.Contains(err.Error(), "husky keys init-root") {
		t.Fatalf("a missing root key: %v, want a message naming init-root", err)
	}
	if err := InitRoot(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("root key mode %v (%v)", st.Mode().Perm(), err)
	}
	if err := InitRoot(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("init-root over an existing file: %v", err)
	}
	r, err := LoadRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.Seal([]byte("the keyring"), []byte("keyring"))
	if err != nil || r.Current() != 1 {
		t.Fatalf("seal: %v, version %d", err, r.Current())
	}
	if _, err := r.Open(sealed, []byte("audit-key")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("opened under another name: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if v, err := RotateRoot(path, t0); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	if changed, err := r.Reload(); err != nil || !changed || r.Current() != 2 {
		t.Fatalf("reload after rotation: %v %v, current %d", changed, err, r.Current())
	}
	if changed, _ := r.Reload(); changed {
		t.Error("reload of an unchanged file reports a change")
	}
	resealed, _ := r.Seal([]byte("the keyring"), []byte("keyring"))
	if v, _ := VersionOf(resealed); v != 2 {
		t.Errorf("the new version does not seal: %d", v)
	}
	if b, err := r.Open(sealed, []byte("keyring")); err != nil || string(b) != "the keyring" {
		t.Errorf("the retired version no longer opens: %q %v", b, err)
	}
	// Nothing younger than the cutoff, and nothing in use, is destroyed;
	// the current version never is.
	if gone, err := PruneRoot(path, t0, nil); err != nil || len(gone) != 0 {
		t.Errorf("prune before the retention ended: %v %v", gone, err)
	}
	if gone, err := PruneRoot(path, t0.Add(time.Hour), map[uint32]bool{1: true}); err != nil || len(gone) != 0 {
		t.Errorf("prune of a version in use: %v %v", gone, err)
	}
	if gone, err := PruneRoot(path, t0.Add(time.Hour), nil); err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(sealed, []byte("keyring")); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("a destroyed version still opens: %v", err)
	}
	if b, err := r.Open(resealed, []byte("keyring")); err != nil || string(b) != "the keyring" {
		t.Errorf("the current version: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRoot(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a root key readable by others: %v", err)
	}
}
