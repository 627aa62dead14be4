package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store"
)

// KeyName names the checkpoint signing key in every signature line.
const KeyName = "husky-audit"

// Key signs and verifies checkpoints. Public is the verifier key in
// sumdb/note form, to hand to whoever keeps checkpoints outside the service.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	Public   string
}

// LoadKey reads the checkpoint signing key from path, creating a new
// Ed25519 key there (mode 0600) on first start. The file holds the signer
// key and, on its second line, the verifier key.
func LoadKey(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = NewKeyText(); err != nil {
			return Key{}, err
		}
		f, oerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if oerr != nil {
			return Key{}, fmt.Errorf("create audit key %s: %w", path, oerr)
		}
		if _, werr := f.Write(b); werr != nil {
			f.Close()
			return Key{}, fmt.Errorf("write audit key: %w", werr)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return Key{}, fmt.Errorf("write audit key: %w", err)
		}
		if err := f.Close(); err != nil {
			return Key{}, fmt.Errorf("write audit key: %w", err)
		}
	} else if err != nil {
		return Key{}, fmt.Errorf("read audit key %s: %w", path, err)
	}
	return ParseKey(path, b)
}

// OpenKey reads the checkpoint signing key kept in src (the database,
// sealed by the root key), creating one there on first start; two first
// starts at once create one key.
func OpenKey(src keyring.Source) (Key, error) {
	b, err := src.Read()
	if errors.Is(err, fs.ErrNotExist) {
		err = src.Change(func(old []byte) ([]byte, error) {
			if old != nil {
				b = old
				return nil, nil
			}
			b, err = NewKeyText()
			return b, err
		})
	}
	if err != nil {
		return Key{}, err
	}
	return ParseKey(src.Name(), b)
}

// NewKeyText generates a checkpoint signing key in its stored form: the
// signer key, and on the second line the verifier key.
func NewKeyText() ([]byte, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, KeyName)
	if err != nil {
		return nil, fmt.Errorf("generate audit key: %w", err)
	}
	return []byte(skey + "\n" + vkey + "\n"), nil
}

// ParseKey reads a checkpoint signing key's stored form b; name says where
// it came from in messages.
func ParseKey(name string, b []byte) (Key, error) {
	lines := strings.Fields(string(b))
	if len(lines) != 2 {
		return Key{}, fmt.Errorf("audit key %s: want a signer key and a verifier key", name)
	}
	s, err := note.NewSigner(lines[0])
	if err != nil {
		return Key{}, fmt.Errorf("audit key %s: %w", name, err)
	}
	v, err := note.NewVerifier(lines[1])
	if err != nil {
		return Key{}, fmt.Errorf("audit key %s: %w", name, err)
	}
	return Key{Signer: s, Verifier: v, Public: lines[1]}, nil
}

// Checkpoint is a signed statement of the tree's size and root hash.
type Checkpoint struct {
	TreeSize  int64     `json:"tree_size"`
	RootHash  string    `json:"root_hash"` // base64
	Note      string    `json:"note"`      // the signed note, to keep outside the service
	CreatedAt time.Time `json:"created_at"`
}

func (c Checkpoint) tree() (tlog.Tree, error) {
	h, err := tlog.ParseHash(c.RootHash)
	return tlog.Tree{N: c.TreeSize, Hash: h}, err
}

// checkpointText is the note body: origin, size, base64 root hash, in the
// layout of the transparency-log checkpoint convention.
func checkpointText(t tlog.Tree) string {
	return fmt.Sprintf("%s\n%d\n%s\n", Origin, t.N, base64.StdEncoding.EncodeToString(t.Hash[:]))
}

// ParseCheckpoint verifies a signed checkpoint note with v and returns the
// tree it states.
func ParseCheckpoint(msg []byte, v note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 || lines[0] != Origin {
		return tlog.Tree{}, fmt.Errorf("checkpoint is not of %s", Origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return tlog.Tree{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint root hash: %w", err)
	}
	return tlog.Tree{N: size, Hash: h}, nil
}

// Checkpoint integrates what is pending, then signs and stores a checkpoint
// of the tree, unless the latest one already covers it, and returns the
// latest.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	// What was recorded before now goes in first.
	if _, err := l.IntegrateAll(ctx); err != nil {
		return Checkpoint{}, err
	}
	var out Checkpoint
	err := l.DB.Tx(ctx, func(tx *store.Tx) error {
		n, err := trailSize(ctx, tx)
		if err != nil {
			return fmt.Errorf("audit size: %w", err)
		}
		latest, err := latestCheckpoint(ctx, tx)
		if err == nil && latest.TreeSize == n {
			out = latest
			return nil
		}
		if err != nil && !errors.Is(err, ErrNoCheckpoint) {
			return err
		}
		h, err := tlog.TreeHash(n, hashReader{ctx, tx, tx.Engine()})
		if err != nil {
			return fmt.Errorf("audit tree hash: %w", err)
		}
		signed, err := note.Sign(&note.Note{Text: checkpointText(tlog.Tree{N: n, Hash: h})}, l.Key.Signer)
		if err != nil {
			return fmt.Errorf("sign checkpoint: %w", err)
		}
		now := l.Clock.Now()
		if err := insertCheckpoint(ctx, tx, n, h, string(signed), now); err != nil {
			return err
		}
		out = Checkpoint{TreeSize: n, RootHash: h.String(), Note: string(signed), CreatedAt: now}
		return nil
	})
	return out, err
}

// Latest returns the newest stored checkpoint, or ErrNoCheckpoint.
func (l *Log) Latest(ctx context.Context) (Checkpoint, error) {
	return latestCheckpoint(ctx, l.DB.Reader)
}

// Size returns how many entries the log holds.
func (l *Log) Size(ctx context.Context) (int64, error) {
	n, err := trailSize(ctx, l.DB.Reader)
	if err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}
