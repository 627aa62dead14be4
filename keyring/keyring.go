// Package keyring holds the service's master keys: versioned AES-256 keys
// that encrypt what must stay secret at rest (webhook signing secrets, and
// wrapped per-order data keys), kept in a Source: an owner-only file apart
// from the database (HUSKY_KEYRING), or the database itself, sealed by the
// root key (Root, HUSKY_ROOT_KEY_FILE). Encryption is AES-256-GCM from Go's standard
// library; every ciphertext names the key version that sealed it, so keys
// can be rotated without re-encrypting everything at once.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"
)

// format names the file layout; a file of another format is refused.
const format = "husky-keyring/1"

// keySize is AES-256.
const keySize = 32

// Errors returned by Open and Keyring.Open.
var (
	// ErrUnknownVersion means a ciphertext names a key version the
	// keyring does not hold (destroyed by pruning, or another keyring).
	ErrUnknownVersion = errors.New("keyring: the key version that sealed this value is not in the keyring")
	// ErrCorrupt means a ciphertext is malformed or fails authentication.
	ErrCorrupt = errors.New("keyring: ciphertext is malformed or was altered")
	// ErrForeign means the file now at the keyring's path is not this
	// keyring: another installation's, or one whose keys were changed.
	ErrForeign = errors.New("keyring: the file is not this keyring (another identity, or a key that changed)")
)

// Version is one master key. A version stops sealing when a newer one is
// added (RetiredAt) and keeps opening until it is pruned.
type Version struct {
	ID  uint32 `json:"version"`
	Key []byte `json:"key,omitempty"`
	// Check is the key's check value: the first bytes of an HMAC of a
	// fixed text under it, naming the key without revealing it.
	Check     string     `json:"check,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// file is the keyring's on-disk form.
type file struct {
	Format string `json:"format"`
	// ID names the keyring for good: a file with another id, at the same
	// path, is another installation's and is never adopted.
	ID       string    `json:"id,omitempty"`
	Versions []Version `json:"master_keys"`
	// LookupKey keys the hashes that index personal values (an email, a
	// phone number) without storing them; LookupVersion numbers it (1 when
	// absent). RotateLookup retires it into RetiredLookup, where it keeps
	// matching what was hashed with it until every live order is hashed
	// again, and is destroyed with the master keys (PruneLookup), so that
	// an old backup's hashes can no longer be tested against guesses.
	LookupKey     []byte    `json:"lookup_key"`
	LookupVersion uint32    `json:"lookup_version,omitempty"`
	RetiredLookup []Version `json:"retired_lookup_keys,omitempty"`
}

// Keyring is the set of master key versions; the newest seals, every
// version held opens. It is safe for concurrent use.
type Keyring struct {
	src Source

	mu       sync.RWMutex
	id       string
	versions map[uint32]cipher.AEAD
	all      []Version // ascending by ID
	lookup   []byte
	lookupV  uint32
	retired  []Version // retired lookup keys, ascending
	digest   [32]byte  // of the file as last read or written
}

// Load reads the keyring at path, creating it (mode 0600) with a first key
// on first start. It fails when the file cannot be read, is not a keyring,
// or is readable by others than its owner.
func Load(path string) (*Keyring, error) { return Open(FileSource(path)) }

// Open reads the keyring kept in src, creating it with a first key when
// src holds none yet.
func Open(src Source) (*Keyring, error) {
	k := &Keyring{src: src}
	b, err := src.Read()
	if errors.Is(err, fs.ErrNotExist) {
		// Two first starts at once create one keyring, not two: the
		// second finds the first's.
		err = src.Change(func(old []byte) ([]byte, error) {
			if old != nil {
				b = old
				return nil, nil
			}
			v, err := newVersion(1)
			if err != nil {
				return nil, err
			}
			b, err = encode(file{Format: format, ID: newKeyringID(), Versions: []Version{v}, LookupKey: randomKey()})
			return b, err
		})
	}
	if err != nil {
		return nil, err
	}
	if err := k.read(b); err != nil {
		return nil, err
	}
	if k.ID() == "" {
		// A keyring from before identities: give it one, and check values,
		// so that a later reload can tell it from any other.
		if err := k.change(func(all []Version) ([]Version, error) { return all, nil }); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// encode is a keyring's stored form.
func encode(f file) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// newKeyringID returns a fresh keyring identity.
func newKeyringID() string { return "kr_" + hex.EncodeToString(randomKey()[:16]) }

// checkValue names a key: the first 8 bytes of HMAC-SHA256(key, a fixed
// text), in hex.
func checkValue(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("husky keyring check value"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ID returns the keyring's identity ("" for a file from before them, until
// it is first written).
func (k *Keyring) ID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.id
}

// read takes the keyring from the file's bytes b.
func (k *Keyring) read(b []byte) error {
	var f file
	if err := json.Unmarshal(b, &f); err != nil || f.Format != format {
		return fmt.Errorf("keyring %s is not a %s file", k.src.Name(), format)
	}
	if len(f.Versions) == 0 {
		return fmt.Errorf("keyring %s holds no key", k.src.Name())
	}
	if len(f.LookupKey) != keySize {
		return fmt.Errorf("keyring %s has no 256-bit lookup key", k.src.Name())
	}
	for _, v := range f.Versions {
		if v.Check != "" && v.Check != checkValue(v.Key) {
			return fmt.Errorf("keyring %s: version %d does not match its check value: %w", k.src.Name(), v.ID, ErrForeign)
		}
	}
	if err := k.same(f); err != nil {
		return err
	}
	k.mu.Lock()
	k.lookup, k.id, k.lookupV, k.retired = f.LookupKey, f.ID, max(f.LookupVersion, 1), f.RetiredLookup
	k.digest = sha256.Sum256(b)
	k.mu.Unlock()
	return k.set(f.Versions)
}

// same refuses a file that is not the keyring already held: another
// identity, another lookup key, or a version held here whose key differs.
// Versions may come (a rotation) and go (a prune); nothing else changes.
// A keyring read for the first time is anything.
func (k *Keyring) same(f file) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.all == nil {
		return nil
	}
	if k.id != "" && f.ID != k.id {
		return fmt.Errorf("keyring %s: %w", k.src.Name(), ErrForeign)
	}
	// The lookup key may have been rotated since (ours retired there, or
	// pruned); a version both hold is the same key.
	theirs := append([]Version{{ID: max(f.LookupVersion, 1), Key: f.LookupKey}}, f.RetiredLookup...)
	ours := append([]Version{{ID: max(k.lookupV, 1), Key: k.lookup}}, k.retired...)
	for _, o := range ours {
		for _, t := range theirs {
			if o.ID == t.ID && !hmac.Equal(o.Key, t.Key) {
				return fmt.Errorf("keyring %s: lookup key %d changed: %w", k.src.Name(), o.ID, ErrForeign)
			}
		}
	}
	if max(f.LookupVersion, 1) < max(k.lookupV, 1) {
		return fmt.Errorf("keyring %s: its lookup key is older than the one in use: %w", k.src.Name(), ErrForeign)
	}
	for _, v := range f.Versions {
		i := sort.Search(len(k.all), func(i int) bool { return k.all[i].ID >= v.ID })
		if i < len(k.all) && k.all[i].ID == v.ID && !hmac.Equal(k.all[i].Key, v.Key) {
			return fmt.Errorf("keyring %s: version %d changed: %w", k.src.Name(), v.ID, ErrForeign)
		}
	}
	return nil
}

// Reload reads the file again if it changed since it was last read (a
// rotation or a prune by another process), and reports whether it did. A
// file that is not this keyring (ErrForeign: another installation's put in
// its place, a key that changed) is not adopted: the keys held stay, and
// the error says so.
func (k *Keyring) Reload() (bool, error) {
	b, err := k.src.Read()
	if err != nil {
		return false, err
	}
	k.mu.RLock()
	same := k.digest == sha256.Sum256(b)
	k.mu.RUnlock()
	if same {
		return false, nil
	}
	return true, k.read(b)
}

// Rotate adds a master key version, which seals from now on; the previous
// current one is retired (it keeps opening). The file is rewritten
// atomically. It returns the new version.
func (k *Keyring) Rotate(now time.Time) (uint32, error) {
	var id uint32
	err := k.change(func(all []Version) ([]Version, error) {
		v, err := newVersion(all[len(all)-1].ID + 1)
		if err != nil {
			return nil, err
		}
		at := now.UTC().Truncate(time.Second)
		v.CreatedAt = at
		for i := range all {
			if all[i].RetiredAt == nil {
				all[i].RetiredAt = &at
			}
		}
		id = v.ID
		return append(all, v), nil
	})
	return id, err
}

// Prune destroys the retired versions retired before cutoff that none of
// inUse needs (a version still wrapping a live data key or sealing a
// secret is never destroyed), rewriting the file, and returns the versions
// destroyed. The current version is never pruned.
func (k *Keyring) Prune(cutoff time.Time, inUse map[uint32]bool) ([]uint32, error) {
	var gone []uint32
	err := k.change(func(all []Version) ([]Version, error) {
		var keep []Version
		for i, v := range all {
			if i < len(all)-1 && v.RetiredAt != nil && v.RetiredAt.Before(cutoff) && !inUse[v.ID] {
				gone = append(gone, v.ID)
				continue
			}
			keep = append(keep, v)
		}
		if len(gone) == 0 {
			return nil, nil
		}
		return keep, nil
	})
	return gone, err
}

// change applies edit to the versions in the file, under an exclusive lock
// on the keyring's lock file, so that two processes (the service's daily
// prune, an operator's rotation) never write over each other's change: the
// file is read again inside the lock, and a version one added is never
// dropped by the other. An edit returning nil changes nothing.
func (k *Keyring) change(edit func([]Version) ([]Version, error)) error {
	return k.changeFile(func(f *file) (bool, error) {
		next, err := edit(f.Versions)
		if err != nil || next == nil {
			return false, err
		}
		f.Versions = next
		return true, nil
	})
}

// changeFile is change for any part of the file: edit changes f and
// reports whether to write it.
func (k *Keyring) changeFile(edit func(f *file) (bool, error)) error {
	var (
		wrote []byte
		f     file
	)
	err := k.src.Change(func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, fmt.Errorf("keyring %s is gone", k.src.Name())
		}
		if err := k.read(old); err != nil {
			return nil, err
		}
		k.mu.RLock()
		f = file{Format: format, ID: k.id, Versions: append([]Version(nil), k.all...), LookupKey: k.lookup, LookupVersion: k.lookupV,
			RetiredLookup: append([]Version(nil), k.retired...)}
		k.mu.RUnlock()
		write, err := edit(&f)
		if err != nil || !write {
			return nil, err
		}
		if f.ID == "" {
			f.ID = newKeyringID()
		}
		for i := range f.Versions {
			f.Versions[i].Check = checkValue(f.Versions[i].Key)
		}
		for i := range f.RetiredLookup {
			f.RetiredLookup[i].Check = checkValue(f.RetiredLookup[i].Key)
		}
		wrote, err = encode(f)
		return wrote, err
	})
	if err != nil || wrote == nil {
		return err
	}
	k.mu.Lock()
	k.id, k.lookup, k.lookupV, k.retired = f.ID, f.LookupKey, max(f.LookupVersion, 1), f.RetiredLookup
	k.digest = sha256.Sum256(wrote)
	k.mu.Unlock()
	return k.set(f.Versions)
}

func randomKey() []byte {
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		panic("keyring: no randomness: " + err.Error())
	}
	return b
}

// Hash returns the keyed hash (HMAC-SHA256 with the current lookup key) of
// value for purpose ("email", "phone"), to index and match personal values
// without storing them: without the keyring, a hash cannot be tested
// against guesses.
func (k *Keyring) Hash(purpose, value string) []byte {
	k.mu.RLock()
	key := k.lookup
	k.mu.RUnlock()
	return lookupHash(key, purpose, value)
}

func lookupHash(key []byte, purpose, value string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// LookupVersion returns the version of the current lookup key, which Hash
// hashes with.
func (k *Keyring) LookupVersion() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return max(k.lookupV, 1)
}

// Hashes returns value's keyed hash under every lookup key held, the
// current one first: what matches a value while stored hashes are being
// computed again under a new key, or were made under one a request or a
// restriction still holds.
func (k *Keyring) Hashes(purpose, value string) [][]byte {
	k.mu.RLock()
	keys := [][]byte{k.lookup}
	for i := len(k.retired) - 1; i >= 0; i-- {
		keys = append(keys, k.retired[i].Key)
	}
	k.mu.RUnlock()
	out := make([][]byte, len(keys))
	for i, key := range keys {
		out[i] = lookupHash(key, purpose, value)
	}
	return out
}

// RetiredLookup returns the versions of the retired lookup keys held,
// oldest first, without their keys.
func (k *Keyring) RetiredLookup() []Version {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]Version, len(k.retired))
	for i, v := range k.retired {
		out[i] = Version{ID: v.ID, CreatedAt: v.CreatedAt, RetiredAt: v.RetiredAt}
	}
	return out
}

// RotateLookup makes a new lookup key current and retires the old one,
// which keeps matching until PruneLookup destroys it. It returns the new
// version.
func (k *Keyring) RotateLookup(now time.Time) (uint32, error) {
	var v uint32
	err := k.changeFile(func(f *file) (bool, error) {
		at := now.UTC().Truncate(time.Second)
		old := max(f.LookupVersion, 1)
		f.RetiredLookup = append(f.RetiredLookup, Version{ID: old, Key: f.LookupKey, RetiredAt: &at})
		f.LookupKey, f.LookupVersion, v = randomKey(), old+1, old+1
		return true, nil
	})
	return v, err
}

// PruneLookup destroys the retired lookup keys retired before cutoff that
// none of inUse needs (a version some stored hash was made with), and
// returns the versions destroyed.
func (k *Keyring) PruneLookup(cutoff time.Time, inUse map[uint32]bool) ([]uint32, error) {
	var gone []uint32
	err := k.changeFile(func(f *file) (bool, error) {
		var keep []Version
		for _, v := range f.RetiredLookup {
			if v.RetiredAt != nil && v.RetiredAt.Before(cutoff) && !inUse[v.ID] {
				gone = append(gone, v.ID)
				continue
			}
			keep = append(keep, v)
		}
		f.RetiredLookup = keep
		return len(gone) > 0, nil
	})
	return gone, err
}

// Path names where the keyring lives (its file).
func (k *Keyring) Path() string { return k.src.Name() }

func newVersion(id uint32) (Version, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return Version{}, fmt.Errorf("generate master key: %w", err)
	}
	return Version{ID: id, Key: key, Check: checkValue(key), CreatedAt: time.Now().UTC().Truncate(time.Second)}, nil
}

func (k *Keyring) set(vs []Version) error {
	m, err := ciphers(k.src.Name(), vs)
	if err != nil {
		return err
	}
	sorted := append([]Version(nil), vs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	k.mu.Lock()
	k.versions, k.all = m, sorted
	k.mu.Unlock()
	return nil
}

// ciphers returns an AES-256-GCM cipher for each version, named for
// messages by name.
func ciphers(name string, vs []Version) (map[uint32]cipher.AEAD, error) {
	m := make(map[uint32]cipher.AEAD, len(vs))
	for _, v := range vs {
		if len(v.Key) != keySize || v.ID == 0 {
			return nil, fmt.Errorf("keyring %s: version %d is not a 256-bit key", name, v.ID)
		}
		block, err := aes.NewCipher(v.Key)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", name, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", name, err)
		}
		m[v.ID] = aead
	}
	return m, nil
}

// Current returns the version new values are sealed with.
func (k *Keyring) Current() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.all[len(k.all)-1].ID
}

// Versions returns the versions held, oldest first, without their keys.
func (k *Keyring) Versions() []Version {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]Version, len(k.all))
	for i, v := range k.all {
		out[i] = Version{ID: v.ID, CreatedAt: v.CreatedAt, RetiredAt: v.RetiredAt}
	}
	return out
}

// CurrentSince returns when the current version was created.
func (k *Keyring) CurrentSince() time.Time {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.all[len(k.all)-1].CreatedAt
}

// Has reports whether the keyring holds version id.
func (k *Keyring) Has(id uint32) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.versions[id]
	return ok
}

// header is the version (4 bytes, big-endian) and the GCM nonce.
const headerSize = 4 + 12

// Seal encrypts plaintext under the current version, binding it to aad
// (what the value belongs to, so a ciphertext moved to another row does
// not open). The result is the version, the nonce and the sealed text.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	k.mu.RLock()
	id := k.all[len(k.all)-1].ID
	aead := k.versions[id]
	k.mu.RUnlock()
	return seal(aead, id, plaintext, aad)
}

// seal is Seal with version id's cipher aead.
func seal(aead cipher.AEAD, id uint32, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+aead.Overhead())
	binary.BigEndian.PutUint32(out, id)
	if _, err := rand.Read(out[4:headerSize]); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	return aead.Seal(out, out[4:headerSize], plaintext, aad), nil
}

// VersionOf returns the key version that sealed ciphertext.
func VersionOf(ciphertext []byte) (uint32, error) {
	if len(ciphertext) < headerSize {
		return 0, ErrCorrupt
	}
	return binary.BigEndian.Uint32(ciphertext), nil
}

// Open decrypts what Seal produced with the same aad. It fails with
// ErrUnknownVersion when the sealing version is not held and ErrCorrupt
// when the ciphertext was altered or belongs elsewhere.
func (k *Keyring) Open(ciphertext, aad []byte) ([]byte, error) {
	id, err := VersionOf(ciphertext)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	aead, ok := k.versions[id]
	k.mu.RUnlock()
	if !ok {
		// Another process may have rotated the file since this one read
		// it (the leader of several instances): read it again at once
		// rather than fail until the next periodic reload.
		if changed, err := k.Reload(); err == nil && changed {
			k.mu.RLock()
			aead, ok = k.versions[id]
			k.mu.RUnlock()
		}
		if !ok {
			return nil, ErrUnknownVersion
		}
	}
	return open(aead, ciphertext, aad)
}

// open is Open with the cipher of the version that sealed ciphertext.
func open(aead cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	out, err := aead.Open(nil, ciphertext[4:headerSize], ciphertext[headerSize:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}
