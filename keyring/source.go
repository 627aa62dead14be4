package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Source is where a keyring's stored form lives and how it is changed:
// an owner-only file (FileSource), or a row in the database sealed by the
// root key (keys.DBSource). Read returns what is stored, or
// an error wrapping fs.ErrNotExist when nothing is yet; Change runs edit
// on what is stored (nil when nothing is), alone among every process
// sharing the source, and stores what edit returns (nothing when it
// returns nil).
type Source interface {
	Name() string
	Read() ([]byte, error)
	Change(edit func(old []byte) ([]byte, error)) error
}

// FileSource keeps the keyring in the file at path: read only while it is
// owner-only, changed under an exclusive lock on path.lock, written
// atomically.
type FileSource string

func (p FileSource) Name() string { return string(p) }

func (p FileSource) Read() ([]byte, error) {
	b, err := os.ReadFile(string(p))
	if err != nil {
		return nil, fmt.Errorf("read keyring %s: %w", p, err)
	}
	if err := checkMode(string(p)); err != nil {
		return nil, err
	}
	return b, nil
}

func (p FileSource) Change(edit func(old []byte) ([]byte, error)) error {
	unlock, err := lockFile(string(p) + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	old, err := p.Read()
	if errors.Is(err, fs.ErrNotExist) {
		old, err = nil, nil
	}
	if err != nil {
		return err
	}
	b, err := edit(old)
	if err != nil || b == nil {
		return err
	}
	return writeFile(string(p), b, old == nil)
}

func checkMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("keyring %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	return nil
}

// lockFile takes an exclusive advisory lock on path (created owner-only),
// waiting for another process that holds it, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// writeFile writes b to path atomically with mode 0600: a temporary file
// in the same directory, synced, renamed over path, and the directory
// synced, so a crash leaves the old keyring or the new one, never half.
// With create, an existing file is an error.
func writeFile(path string, b []byte, create bool) error {
	if create {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("create keyring %s: it already exists", path)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*")
	if err != nil {
		return fmt.Errorf("write keyring %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.Write(b)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		return fmt.Errorf("write keyring %s: %w", path, werr)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
