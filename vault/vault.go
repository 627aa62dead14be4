// Package vault holds a data key for every order and seals the order's
// personal values with it (AES-256-GCM from Go's standard library), wherever
// they are stored: the order's own columns, webhook payloads, recorded
// answers, recipients' free text. Each data key is stored wrapped by the
// keyring's current master key. Erasing an order destroys its data key in
// the same transaction (crypto-shredding): once the master keys that
// wrapped it are pruned, nothing the service ever wrote, backups included,
// can show the order's data again. The package owns the data_keys table.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store"
)

// ErrNoKey means the order has no data key: it was erased (or never had
// one, a database from before the vault).
var ErrNoKey = errors.New("vault: the order has no data key")

// ErrNotSealed means a place that holds only sealed values holds a plain
// one; it is never served.
var ErrNotSealed = errors.New("vault: the value is not sealed")

// sealed marks a sealed value: JSON, text and the empty value never start
// with a zero byte.
const sealed = 0x00

// Vault creates, opens and destroys data keys.
type Vault struct {
	DB      *store.DB
	Keyring *keyring.Keyring
	// Refused, if set, counts sealed values refused where they were read
	// (husky_sealed_values_refused_total; NewRefusedCounter).
	Refused prometheus.Counter
}

// NewRefusedCounter returns husky_sealed_values_refused_total.
func NewRefusedCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "husky_sealed_values_refused_total",
		Help: "Values refused where only sealed values belong: plain values, or values sealed for another row, column or owner."})
}

// Key is one order's data key, unwrapped.
type Key struct {
	orderID string
	aead    cipher.AEAD
	// mac keys the digests of what is sent about the order; derived from
	// the data key, it is gone when the key is.
	mac []byte
	// refused counts a value refused (nil: not counted).
	refused prometheus.Counter
}

func (k *Key) refuse() {
	if k.refused != nil {
		k.refused.Inc()
	}
}

func (v *Vault) rows() keyRows { return keyRows{v.DB} }

func wrapAAD(orderID string) []byte { return []byte("data_key\x00" + orderID) }

func (v *Vault) newKey(orderID string, raw []byte) (*Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("husky payload digest\x00" + orderID))
	return &Key{orderID: orderID, aead: aead, mac: m.Sum(nil), refused: v.Refused}, nil
}

// Digest returns the keyed digest (HMAC-SHA256 under a key derived from the
// data key) of a payload sent about the order, in hex. The audit trail
// records it to prove what was sent; unlike a plain SHA-256, nobody holding
// a recipient's copy can find the order's entries with it, and once the
// data key is destroyed nobody can compute it at all.
func (k *Key) Digest(b []byte) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// Create makes a data key for a new order inside tx and returns it.
func (v *Vault) Create(ctx context.Context, tx *store.Tx, orderID string) (*Key, error) {
	k, w, err := v.Make(orderID)
	if err != nil {
		return nil, err
	}
	return k, v.Put(ctx, tx, w)
}

// Wrapped is a data key wrapped by the keyring, made and not yet stored.
type Wrapped struct{ row keyRow }

// Make makes a data key for a new order and returns it with its wrapped
// form, for Put to store once the order is.
func (v *Vault) Make(orderID string) (*Key, Wrapped, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, Wrapped{}, fmt.Errorf("vault: data key: %w", err)
	}
	wrapped, err := v.Keyring.Seal(raw, wrapAAD(orderID))
	if err != nil {
		return nil, Wrapped{}, err
	}
	version, _ := keyring.VersionOf(wrapped)
	k, err := v.newKey(orderID, raw)
	return k, Wrapped{keyRow{OrderID: orderID, Version: version, Wrapped: wrapped}}, err
}

// Put stores a data key Make made, inside tx.
func (v *Vault) Put(ctx context.Context, tx *store.Tx, w Wrapped) error {
	if err := v.rows().insert(ctx, tx, w.row); err != nil {
		return fmt.Errorf("store data key: %w", err)
	}
	return nil
}

// Get returns an order's data key, through q, or ErrNoKey.
func (v *Vault) Get(ctx context.Context, q sqlx.QueryerContext, orderID string) (*Key, error) {
	ks, err := v.GetMany(ctx, q, []string{orderID})
	if err != nil {
		return nil, err
	}
	k, ok := ks[orderID]
	if !ok {
		return nil, ErrNoKey
	}
	return k, nil
}

// GetMany returns the data keys of the given orders that have one, in one
// query per 500 orders. An order without a key is absent from the map.
func (v *Vault) GetMany(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) (map[string]*Key, error) {
	out := make(map[string]*Key, len(orderIDs))
	ids := slices.Compact(slices.Sorted(slices.Values(orderIDs)))
	for part := range slices.Chunk(ids, 500) {
		rows, err := v.rows().get(ctx, q, part)
		if err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		for _, r := range rows {
			raw, err := v.Keyring.Open(r.Wrapped, wrapAAD(r.OrderID))
			if errors.Is(err, keyring.ErrUnknownVersion) {
				// A rotation by another process: read the keyring again.
				if _, rerr := v.Keyring.Reload(); rerr == nil {
					raw, err = v.Keyring.Open(r.Wrapped, wrapAAD(r.OrderID))
				}
			}
			if err != nil {
				return nil, fmt.Errorf("open the data key of %s (master key version %d): %w", r.OrderID, r.Version, err)
			}
			k, err := v.newKey(r.OrderID, raw)
			if err != nil {
				return nil, err
			}
			out[r.OrderID] = k
		}
	}
	return out, nil
}

// Destroy deletes the data keys of the given orders inside tx: what was
// sealed with them can no longer be opened (secure_delete zeroes the rows).
func (v *Vault) Destroy(ctx context.Context, tx *store.Tx, orderIDs []string) error {
	for part := range slices.Chunk(orderIDs, 500) {
		if err := v.rows().destroy(ctx, tx, part); err != nil {
			return fmt.Errorf("destroy data keys: %w", err)
		}
	}
	return nil
}

// Versions counts the live data keys wrapped by each master key version.
func (v *Vault) Versions(ctx context.Context, q sqlx.QueryerContext) (map[uint32]int, error) {
	rows, err := v.rows().versions(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("data key versions: %w", err)
	}
	out := make(map[uint32]int, len(rows))
	for _, r := range rows {
		out[r.Version] = r.N
	}
	return out, nil
}

// Rewrap wraps up to batch data keys that a version other than the current
// one wraps under the current one, in one transaction, and returns how
// many it did (0 when none is left). Keys are re-wrapped, not replaced:
// nothing sealed with them changes.
func (v *Vault) Rewrap(ctx context.Context, db *store.DB, batch int) (int, error) {
	current := v.Keyring.Current()
	rows, err := keyRows{db}.stale(ctx, current, batch)
	if err != nil {
		return 0, fmt.Errorf("data keys to re-wrap: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	n := 0
	err = db.Tx(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			raw, err := v.Keyring.Open(r.Wrapped, wrapAAD(r.OrderID))
			if err != nil {
				return fmt.Errorf("open the data key of %s: %w", r.OrderID, err)
			}
			wrapped, err := v.Keyring.Seal(raw, wrapAAD(r.OrderID))
			if err != nil {
				return err
			}
			there, err := keyRows{db}.rewrap(ctx, tx, r, current, wrapped)
			if err != nil {
				return fmt.Errorf("re-wrap data key: %w", err)
			}
			// An order erased meanwhile has no key to re-wrap.
			if there {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Seal encrypts a personal value of the key's order, bound to what it is
// (aad: the column, the delivery), so that it opens nowhere else. The
// empty value stays empty.
func (k *Key) Seal(plaintext []byte, aad string) []byte {
	if len(plaintext) == 0 {
		return nil
	}
	out := make([]byte, 1+12, 1+12+len(plaintext)+k.aead.Overhead())
	out[0] = sealed
	if _, err := rand.Read(out[1:13]); err != nil {
		panic("vault: no randomness: " + err.Error())
	}
	return k.aead.Seal(out, out[1:13], plaintext, k.aad(aad))
}

func (k *Key) aad(what string) []byte { return []byte(k.orderID + "\x00" + what) }

// SealString is Seal for text.
func (k *Key) SealString(s, aad string) []byte { return k.Seal([]byte(s), aad) }

// IsSealed reports whether a stored value is sealed.
func IsSealed(b []byte) bool { return len(b) > 0 && b[0] == sealed }

// Open decrypts what Seal produced with the same aad. The empty value
// opens as empty; anything else that is not a sealed value for this place
// (a plain value put in a sealed column, a value sealed for another row,
// column or owner) fails: ErrNotSealed, or an error that it does not open.
// Each refusal is counted (husky_sealed_values_refused_total).
func (k *Key) Open(b []byte, aad string) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	if !IsSealed(b) {
		k.refuse()
		return nil, fmt.Errorf("vault: a value of %s in a sealed place: %w", k.orderID, ErrNotSealed)
	}
	if len(b) < 13 {
		return nil, errors.New("vault: sealed value is truncated")
	}
	out, err := k.aead.Open(nil, b[1:13], b[13:], k.aad(aad))
	if err != nil {
		k.refuse()
		return nil, fmt.Errorf("vault: a sealed value of %s does not open here: %w", k.orderID, err)
	}
	return out, nil
}

// OpenString is Open for text.
func (k *Key) OpenString(b []byte, aad string) (string, error) {
	out, err := k.Open(b, aad)
	return string(out), err
}

// CheckResult is what Check found: how many data keys there are, how
// many the keyring cannot open, and under which master key versions.
type CheckResult struct {
	Keys, Bad int
	Versions  []uint32
}

// Check opens every data key, batch at a time in the order of their
// orders (never a sample: one key of a version may open where another,
// altered or wrapped by another keyring, does not), and returns how many
// the keyring cannot open and their versions.
func (v *Vault) Check(ctx context.Context, q sqlx.QueryerContext, batch int) (CheckResult, error) {
	var res CheckResult
	seen := map[uint32]bool{}
	for after := ""; ; {
		rows, err := v.rows().after(ctx, q, after, batch)
		if err != nil {
			return res, fmt.Errorf("check data keys: %w", err)
		}
		for _, r := range rows {
			res.Keys++
			if _, err := v.Keyring.Open(r.Wrapped, wrapAAD(r.OrderID)); err != nil {
				res.Bad++
				if !seen[r.Version] {
					seen[r.Version] = true
					res.Versions = append(res.Versions, r.Version)
				}
			}
		}
		if len(rows) < batch {
			slices.Sort(res.Versions)
			return res, nil
		}
		after = rows[len(rows)-1].OrderID
	}
}
