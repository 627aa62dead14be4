package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"
)

// memSource keeps a keyring in memory, changed under a mutex: a Source
// that is not a file, as the database's row will be.
type memSource struct {
	mu sync.Mutex
	b  []byte
}

func (m *memSource) Name() string { return "memory" }

func (m *memSource) Read() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b == nil {
		return nil, fmt.Errorf("memory keyring: %w", fs.ErrNotExist)
	}
	return append([]byte(nil), m.b...), nil
}

func (m *memSource) Change(edit func(old []byte) ([]byte, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := edit(m.b)
	if err == nil && b != nil {
		m.b = b
	}
	return err
}

// A keyring needs of its source only Read and Change: two keyrings on one
// source that is not a file create one keyring, and each sees the other's
// rotation and prune on reload.
func TestAKeyringLivesInAnySource(t *testing.T) {
	t.Parallel()
	src := &memSource{}
	a, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == "" || a.ID() != b.ID() {
		t.Fatalf("two opens made two keyrings: %q %q", a.ID(), b.ID())
	}
	sealed, err := a.Seal([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Rotate(time.Now())
	if err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	if changed, err := b.Reload(); err != nil || !changed || b.Current() != 2 {
		t.Fatalf("the other keyring's reload: %v %v, current %d", changed, err, b.Current())
	}
	if gone, err := b.Prune(time.Now().Add(time.Hour), nil); err != nil || len(gone) != 1 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if _, err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(sealed, []byte("aad")); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("a value sealed with a pruned version opened: %v", err)
	}
}
