package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/keys"
	"github.com/milestone/husky/store"
)

// Where the master keys and the audit signing key live: files beside the
// database (HUSKY_KEYRING, HUSKY_AUDIT_KEY), or the database itself,
// sealed by the root key every instance reads from HUSKY_ROOT_KEY_FILE.

// openSecrets opens the keyring and the audit signing key where cfg keeps
// them, and the root key when they are in the database (nil otherwise).
func openSecrets(ctx context.Context, cfg Config, db *store.DB) (*keyring.Keyring, audit.Key, *keyring.Root, error) {
	if cfg.RootKeyFile == "" {
		key, err := audit.LoadKey(cfg.AuditKey)
		if err != nil {
			return nil, audit.Key{}, nil, err
		}
		ring, err := keyring.Load(cfg.Keyring)
		return ring, key, nil, err
	}
	root, err := keyring.LoadRoot(cfg.RootKeyFile)
	if err != nil {
		return nil, audit.Key{}, nil, err
	}
	ringSrc, keySrc := secretSources(db, root)
	// A deployment moving to the database must import its files first:
	// a new keyring would open none of the data its files' keys sealed.
	for _, s := range []struct {
		src  keys.DBSource
		file string
	}{{ringSrc, cfg.Keyring}, {keySrc, cfg.AuditKey}} {
		held, err := s.src.Held(ctx)
		if err != nil {
			return nil, audit.Key{}, nil, err
		}
		if _, serr := os.Stat(s.file); !held && serr == nil {
			return nil, audit.Key{}, nil, fmt.Errorf("%s exists and the database holds no %s: run husky keys import to move it there, "+
				"or unset HUSKY_ROOT_KEY_FILE", s.file, s.src.Secret)
		}
	}
	ring, err := keyring.Open(ringSrc)
	if err != nil {
		return nil, audit.Key{}, nil, err
	}
	key, err := audit.OpenKey(keySrc)
	return ring, key, root, err
}

func secretSources(db *store.DB, root *keyring.Root) (ring, auditKey keys.DBSource) {
	return keys.DBSource{DB: db, Root: root, Secret: keys.SecretKeyring, Clock: time.Now},
		keys.DBSource{DB: db, Root: root, Secret: keys.SecretAuditKey, Clock: time.Now}
}

// keyringName says where the keyring lives, for messages.
func keyringName(cfg Config) string {
	if cfg.RootKeyFile != "" {
		return "in the database, sealed by the root key " + cfg.RootKeyFile
	}
	return cfg.Keyring
}

// Imported says what ImportSecrets moved into the database.
type Imported struct {
	Keyring  bool   `json:"keyring_imported"`
	AuditKey bool   `json:"audit_key_imported"`
	ID       string `json:"keyring_id"`
}

// ImportSecrets moves the keyring file and the audit key file cfg names
// into the database, sealed by the root key (husky keys import). Each is
// checked before it is stored; importing again is a no-op, and a database
// that holds other keys is refused. The files are left in place: the
// operator keeps them offline for the backup retention, then destroys
// them, as the keyring's pruned versions are destroyed.
func ImportSecrets(ctx context.Context, cfg Config) (Imported, error) {
	if cfg.RootKeyFile == "" {
		return Imported{}, errors.New("HUSKY_ROOT_KEY_FILE: must name the root key to import under")
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return Imported{}, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return Imported{}, err
	}
	root, err := keyring.LoadRoot(cfg.RootKeyFile)
	if err != nil {
		return Imported{}, err
	}
	ringSrc, keySrc := secretSources(db, root)
	if _, err := keyring.FileSource(cfg.Keyring).Read(); errors.Is(err, fs.ErrNotExist) {
		return Imported{}, fmt.Errorf("HUSKY_KEYRING: no keyring at %s to import", cfg.Keyring)
	} else if err != nil {
		return Imported{}, err
	}
	// Open checks the file is a keyring (and gives one from before
	// identities its identity); what is imported is the file as it is then.
	ring, err := keyring.Open(keyring.FileSource(cfg.Keyring))
	if err != nil {
		return Imported{}, err
	}
	ringFile, err := keyring.FileSource(cfg.Keyring).Read()
	if err != nil {
		return Imported{}, err
	}
	keyFile, err := os.ReadFile(cfg.AuditKey)
	if err != nil {
		return Imported{}, fmt.Errorf("HUSKY_AUDIT_KEY: %w", err)
	}
	if _, err := audit.ParseKey(cfg.AuditKey, keyFile); err != nil {
		return Imported{}, err
	}
	var out Imported
	out.ID = ring.ID()
	if out.Keyring, err = ringSrc.Import(ringFile); err != nil {
		return out, err
	}
	out.AuditKey, err = keySrc.Import(keyFile)
	return out, err
}
