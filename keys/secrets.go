package keys

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store"
)

// The keyring and the audit signing key kept in the database, sealed by
// the root key: what lets several instances on several machines share
// them with one read-only file each (HUSKY_ROOT_KEY_FILE) instead of a
// shared writable volume.

// The secrets the database keeps.
const (
	SecretKeyring  = "keyring"
	SecretAuditKey = "audit-key"
)

// secretTimeout bounds one read or change of a sealed secret: Source's
// methods take no context.
const secretTimeout = 30 * time.Second

// DBSource keeps one secret (SecretKeyring, SecretAuditKey) in the
// database, sealed by Root and bound to its name. It is a keyring.Source:
// a change runs in one transaction, alone among every instance (a lock
// named for the secret), so a rotation by one instance and a prune by
// another never write over each other; the others read the change at
// their next reload.
type DBSource struct {
	DB     *store.DB
	Root   *keyring.Root
	Secret string
	Clock  func() time.Time
}

// Name names the secret in messages.
func (s DBSource) Name() string { return "database secret " + s.Secret }

func (s DBSource) aad() []byte { return []byte("husky sealed secret " + s.Secret) }

// Read returns the secret, or an error wrapping fs.ErrNotExist when the
// database holds none yet.
func (s DBSource) Read() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	row, ok, err := secretRows{}.get(ctx, s.DB.Reader, s.Secret)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", s.Name(), fs.ErrNotExist)
	}
	return s.open(row)
}

func (s DBSource) open(row secretRow) ([]byte, error) {
	b, err := s.Root.Open(row.Sealed, s.aad())
	if err != nil {
		return nil, fmt.Errorf("%s (sealed by root key version %d): %w", s.Name(), row.RootVersion, err)
	}
	return b, nil
}

// Change runs edit on the secret (nil when the database holds none) and
// stores what it returns, sealed by the root key's current version.
func (s DBSource) Change(edit func(old []byte) ([]byte, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := store.Serialize(ctx, tx, "secret:"+s.Secret); err != nil {
			return err
		}
		row, ok, err := secretRows{}.get(ctx, tx, s.Secret)
		if err != nil {
			return err
		}
		var old []byte
		if ok {
			if old, err = s.open(row); err != nil {
				return err
			}
		}
		b, err := edit(old)
		if err != nil || b == nil {
			return err
		}
		sealed, err := s.Root.Seal(b, s.aad())
		if err != nil {
			return err
		}
		return secretRows{}.put(ctx, tx, s.Secret, sealed, s.Root.Current(), s.now())
	})
}

func (s DBSource) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// Held reports whether the database holds the secret.
func (s DBSource) Held(ctx context.Context) (bool, error) {
	_, ok, err := secretRows{}.get(ctx, s.DB.Reader, s.Secret)
	return ok, err
}

// Import stores b, a secret's file as it was kept before the database
// (HUSKY_KEYRING, HUSKY_AUDIT_KEY), as the secret. Importing the same
// bytes again does nothing and reports false; a database that already
// holds another is refused: it may be what its data keys need.
func (s DBSource) Import(b []byte) (bool, error) {
	imported := false
	err := s.Change(func(old []byte) ([]byte, error) {
		switch {
		case old == nil:
			imported = true
			return b, nil
		case bytes.Equal(old, b):
			return nil, nil
		default:
			return nil, fmt.Errorf("the database already holds a different %s: import refused (it may be what the database's data needs)", s.Secret)
		}
	})
	return imported, err
}

// RootUse is where the root key stands against the database.
type RootUse struct {
	// Resealed: secrets moved to the current root version by this call.
	Resealed int `json:"resealed"`
	// Sealing: the root version each secret is sealed by now.
	Sealing map[string]uint32 `json:"sealing"`
}

// ResealRoot seals again, under the root key's current version, every
// secret an older version seals, so that the older one can be destroyed
// (PruneRoot). Each secret is read and written in its own transaction
// under its lock.
func ResealRoot(ctx context.Context, db *store.DB, root *keyring.Root, clock func() time.Time) (RootUse, error) {
	held, err := secretRows{}.versions(ctx, db.Reader)
	if err != nil {
		return RootUse{}, err
	}
	use := RootUse{Sealing: held}
	for name, v := range held {
		if v == root.Current() {
			continue
		}
		src := DBSource{DB: db, Root: root, Secret: name, Clock: clock}
		if err := src.Change(func(old []byte) ([]byte, error) { return old, nil }); err != nil {
			return use, err
		}
		use.Resealed++
		use.Sealing[name] = root.Current()
	}
	return use, nil
}

// PruneRoot reseals every secret under the root key's current version,
// then destroys, in the file at root.Path(), the root versions retired
// before cutoff (the backup retention) that seal nothing. A backup of the
// database taken while a destroyed version sealed its keyring can no
// longer open it, nor the master keys pruned since: this is what makes
// erasure reach the database's backups once the keyring lives there.
func PruneRoot(ctx context.Context, db *store.DB, root *keyring.Root, cutoff time.Time, clock func() time.Time) ([]uint32, error) {
	use, err := ResealRoot(ctx, db, root, clock)
	if err != nil {
		return nil, err
	}
	inUse := map[uint32]bool{}
	for _, v := range use.Sealing {
		inUse[v] = true
	}
	gone, err := keyring.PruneRoot(root.Path(), cutoff, inUse)
	if err != nil {
		return nil, err
	}
	if _, err := root.Reload(); err != nil {
		return gone, err
	}
	return gone, nil
}
