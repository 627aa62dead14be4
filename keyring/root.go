package keyring

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"
)

// rootFormat names the root key file's layout.
const rootFormat = "husky-root-key/1"

// rootFile is the root key file's form: versions of one 256-bit key, the
// newest sealing, every one opening.
type rootFile struct {
	Format   string    `json:"format"`
	Versions []Version `json:"root_keys"`
}

// Root is the root key (HUSKY_ROOT_KEY_FILE): the one secret every
// instance reads from its own owner-only file, which seals what the
// database keeps of the keyring and the audit signing key. The service
// only reads the file; an operator creates it (InitRoot), adds versions
// to it (RotateRoot) and destroys old ones (PruneRoot), then puts the same
// file on every instance. It is safe for concurrent use.
type Root struct {
	src FileSource

	mu      sync.RWMutex
	ciphers map[uint32]cipher.AEAD
	all     []Version // ascending by ID, without keys
	digest  [32]byte
}

// InitRoot creates the root key file at path, owner-only, holding a first
// version. An existing file is an error: it may seal a database.
func InitRoot(path string) error {
	return FileSource(path).Change(func(old []byte) ([]byte, error) {
		if old != nil {
			return nil, fmt.Errorf("root key %s already exists: it may seal a database; rotate it (husky keys rotate-root) instead", path)
		}
		v, err := newVersion(1)
		if err != nil {
			return nil, err
		}
		return encodeRoot(rootFile{Format: rootFormat, Versions: []Version{v}})
	})
}

// RotateRoot adds a root key version to the file at path, which seals from
// when an instance reads it; the previous one is retired and keeps
// opening until PruneRoot destroys it. It returns the new version.
func RotateRoot(path string, now time.Time) (uint32, error) {
	var id uint32
	err := changeRoot(path, func(f *rootFile) (bool, error) {
		v, err := newVersion(f.Versions[len(f.Versions)-1].ID + 1)
		if err != nil {
			return false, err
		}
		at := now.UTC().Truncate(time.Second)
		v.CreatedAt = at
		for i := range f.Versions {
			if f.Versions[i].RetiredAt == nil {
				f.Versions[i].RetiredAt = &at
			}
		}
		f.Versions, id = append(f.Versions, v), v.ID
		return true, nil
	})
	return id, err
}

// PruneRoot destroys from the file at path the root key versions retired
// before cutoff that none of inUse needs (a version still sealing a row is
// never destroyed), and returns them. The current version stays.
func PruneRoot(path string, cutoff time.Time, inUse map[uint32]bool) ([]uint32, error) {
	var gone []uint32
	err := changeRoot(path, func(f *rootFile) (bool, error) {
		var keep []Version
		for i, v := range f.Versions {
			if i < len(f.Versions)-1 && v.RetiredAt != nil && v.RetiredAt.Before(cutoff) && !inUse[v.ID] {
				gone = append(gone, v.ID)
				continue
			}
			keep = append(keep, v)
		}
		f.Versions = keep
		return len(gone) > 0, nil
	})
	return gone, err
}

// changeRoot edits the root key file at path under its lock; edit reports
// whether to write.
func changeRoot(path string, edit func(f *rootFile) (bool, error)) error {
	return FileSource(path).Change(func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, fmt.Errorf("root key %s does not exist: create it with husky keys init-root", path)
		}
		f, err := decodeRoot(path, old)
		if err != nil {
			return nil, err
		}
		if write, err := edit(&f); err != nil || !write {
			return nil, err
		}
		return encodeRoot(f)
	})
}

func encodeRoot(f rootFile) ([]byte, error) {
	for i := range f.Versions {
		f.Versions[i].Check = checkValue(f.Versions[i].Key)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

func decodeRoot(path string, b []byte) (rootFile, error) {
	var f rootFile
	if err := json.Unmarshal(b, &f); err != nil || f.Format != rootFormat {
		return rootFile{}, fmt.Errorf("root key %s is not a %s file", path, rootFormat)
	}
	if len(f.Versions) == 0 {
		return rootFile{}, fmt.Errorf("root key %s holds no key", path)
	}
	for _, v := range f.Versions {
		if v.Check != checkValue(v.Key) {
			return rootFile{}, fmt.Errorf("root key %s: version %d does not match its check value", path, v.ID)
		}
	}
	sort.Slice(f.Versions, func(i, j int) bool { return f.Versions[i].ID < f.Versions[j].ID })
	return f, nil
}

// LoadRoot reads the root key file at path, which must exist and be
// owner-only. The service never writes it.
func LoadRoot(path string) (*Root, error) {
	r := &Root{src: FileSource(path)}
	if _, err := r.Reload(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("root key %s does not exist: create it once with husky keys init-root FILE and give every instance a copy", path)
		}
		return nil, err
	}
	return r, nil
}

// Reload reads the file again if it changed (an operator added or
// destroyed a version) and reports whether it did.
func (r *Root) Reload() (bool, error) {
	b, err := r.src.Read()
	if err != nil {
		return false, err
	}
	digest := sha256.Sum256(b)
	r.mu.RLock()
	same := r.ciphers != nil && r.digest == digest
	r.mu.RUnlock()
	if same {
		return false, nil
	}
	f, err := decodeRoot(r.src.Name(), b)
	if err != nil {
		return false, err
	}
	m, err := ciphers(r.src.Name(), f.Versions)
	if err != nil {
		return false, err
	}
	for i := range f.Versions {
		f.Versions[i].Key = nil
	}
	r.mu.Lock()
	r.ciphers, r.all, r.digest = m, f.Versions, digest
	r.mu.Unlock()
	return true, nil
}

// Path names the root key's file.
func (r *Root) Path() string { return r.src.Name() }

// Current returns the version that seals.
func (r *Root) Current() uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all[len(r.all)-1].ID
}

// Versions returns the versions held, oldest first, without their keys.
func (r *Root) Versions() []Version {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Version(nil), r.all...)
}

// Seal encrypts plaintext under the current root version, bound to aad.
func (r *Root) Seal(plaintext, aad []byte) ([]byte, error) {
	r.mu.RLock()
	id := r.all[len(r.all)-1].ID
	aead := r.ciphers[id]
	r.mu.RUnlock()
	return seal(aead, id, plaintext, aad)
}

// Open decrypts what Seal produced with the same aad: ErrUnknownVersion
// when the file no longer (or does not yet) hold the version that sealed
// it, ErrCorrupt when it was altered or belongs elsewhere.
func (r *Root) Open(ciphertext, aad []byte) ([]byte, error) {
	id, err := VersionOf(ciphertext)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	aead, ok := r.ciphers[id]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("root key %s lacks version %d: %w", r.src.Name(), id, ErrUnknownVersion)
	}
	return open(aead, ciphertext, aad)
}
