package partners

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// Sealer encrypts values at rest and opens them again (keyring.Keyring).
// aad binds a ciphertext to the row it belongs to.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(ciphertext, aad []byte) ([]byte, error)
}

// sealedPrefix marks a stored secret as sealed; a plaintext one (written
// before secrets were encrypted) starts with whsec_.
const sealedPrefix = "sealed:"

func secretAAD(partnerID, createdAt string) []byte {
	return []byte("partner_secret\x00" + partnerID + "\x00" + createdAt)
}

// seal encrypts a webhook secret for storage.
func (s *Store) seal(partnerID, createdAt, secret string) (string, error) {
	if s.Sealer == nil {
		return "", errors.New("partners: no keyring to seal webhook secrets with")
	}
	ct, err := s.Sealer.Seal([]byte(secret), secretAAD(partnerID, createdAt))
	if err != nil {
		return "", fmt.Errorf("seal webhook secret: %w", err)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(ct), nil
}

// open decrypts a stored webhook secret. A plaintext one, left from before
// secrets were sealed, is returned as it is until SealPlaintextSecrets runs.
func (s *Store) open(r secretRow) (string, error) {
	b64, ok := strings.CutPrefix(r.Secret, sealedPrefix)
	if !ok {
		return r.Secret, nil
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("webhook secret of %s is malformed", r.PartnerID)
	}
	if s.Sealer == nil {
		return "", errors.New("partners: no keyring to open webhook secrets with")
	}
	pt, err := s.Sealer.Open(ct, secretAAD(r.PartnerID, r.CreatedAt))
	if err != nil {
		return "", fmt.Errorf("open webhook secret of %s: %w", r.PartnerID, err)
	}
	return string(pt), nil
}

func (s *Store) insertSecret(ctx context.Context, tx *store.Tx, partnerID string, at time.Time, secret string) error {
	created := store.FormatTime(at)
	sealed, err := s.seal(partnerID, created, secret)
	if err != nil {
		return err
	}
	if err := s.rows().insertSecret(ctx, tx, partnerID, sealed, created); err != nil {
		return fmt.Errorf("insert partner secret: %w", err)
	}
	return nil
}

func (s *Store) activeSecrets(ctx context.Context, q sqlx.QueryerContext, partnerID string, now time.Time) ([]string, error) {
	rows, err := s.rows().activeSecrets(ctx, q, partnerID, now)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		sec, err := s.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

// Secrets returns the partner's secrets valid now, newest first, decrypted.
func (s *Store) Secrets(ctx context.Context, id string) ([]string, error) {
	return s.activeSecrets(ctx, s.DB.Reader, id, s.Clock.Now())
}

// SealPlaintextSecrets encrypts every webhook secret still stored in plain
// text (a database from before secrets were sealed) and returns how many it
// sealed. It runs at every start; once all are sealed it changes nothing.
func (s *Store) SealPlaintextSecrets(ctx context.Context) (int, error) {
	n := 0
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		rows, err := s.rows().secrets(ctx, tx, true)
		if err != nil {
			return fmt.Errorf("find plaintext secrets: %w", err)
		}
		for _, r := range rows {
			sealed, err := s.seal(r.PartnerID, r.CreatedAt, r.Secret)
			if err != nil {
				return err
			}
			if err := s.rows().sealSecret(ctx, tx, r, sealed); err != nil {
				return fmt.Errorf("seal secret: %w", err)
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}

// SecretVersions counts the stored secrets sealed by each master key
// version.
func (s *Store) SecretVersions(ctx context.Context) (map[uint32]int, error) {
	rows, err := s.rows().secrets(ctx, s.DB.Reader, false)
	if err != nil {
		return nil, fmt.Errorf("secret versions: %w", err)
	}
	out := map[uint32]int{}
	for _, r := range rows {
		if v, ok := sealedVersion(r.Secret); ok {
			out[v]++
		}
	}
	return out, nil
}

// sealedVersion reads the master key version of a sealed secret.
func sealedVersion(stored string) (uint32, bool) {
	b64, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return 0, false
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(ct) < 4 {
		return 0, false
	}
	return uint32(ct[0])<<24 | uint32(ct[1])<<16 | uint32(ct[2])<<8 | uint32(ct[3]), true
}

// ResealSecrets seals again, with the current master key, every secret a
// retired one sealed (after a rotation), and returns how many.
func (s *Store) ResealSecrets(ctx context.Context, current uint32) (int, error) {
	n := 0
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		rows, err := s.rows().secrets(ctx, tx, false)
		if err != nil {
			return fmt.Errorf("read secrets: %w", err)
		}
		for _, r := range rows {
			if v, ok := sealedVersion(r.Secret); !ok || v == current {
				continue
			}
			plain, err := s.open(r)
			if err != nil {
				return err
			}
			sealed, err := s.seal(r.PartnerID, r.CreatedAt, plain)
			if err != nil {
				return err
			}
			if err := s.rows().sealSecret(ctx, tx, r, sealed); err != nil {
				return fmt.Errorf("reseal secret: %w", err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// CheckSecrets tries one stored secret of every master key version and
// returns the versions the keyring cannot open.
func (s *Store) CheckSecrets(ctx context.Context) ([]uint32, error) {
	rows, err := s.rows().secrets(ctx, s.DB.Reader, false)
	if err != nil {
		return nil, fmt.Errorf("check secrets: %w", err)
	}
	tried := map[uint32]bool{}
	var bad []uint32
	for _, r := range rows {
		v, ok := sealedVersion(r.Secret)
		if !ok || tried[v] {
			continue
		}
		tried[v] = true
		if _, err := s.open(r); err != nil {
			bad = append(bad, v)
		}
	}
	return bad, nil
}
