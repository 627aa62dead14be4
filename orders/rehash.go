package orders

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/milestone/husky/store"
)

// Rotating the lookup key (husky keys rotate-lookup): every live order's
// keyed hashes (email, phone, reference) are made again under the new
// key, online, a batch at a time, from the order's own sealed values; the
// other packages that hold such hashes are told which old hash became
// which new one (Rehashed). Once none is left under the old key, it can be
// destroyed, and an old backup's hashes can no longer be tested against
// guesses.

// Rehash makes the keyed hashes of up to limit live orders after order id
// after again under the current lookup key, in one transaction, and returns
// how many it did and the last order id read (empty when none was left).
func (s *Service) Rehash(ctx context.Context, after string, limit int) (int, string, error) {
	if s.Hash == nil {
		return 0, "", nil
	}
	version := s.lookupVersion()
	n, last := 0, ""
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		rows, err := s.rows().toRehash(ctx, tx, after, version, limit)
		if err != nil {
			return fmt.Errorf("orders to re-hash: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		keys, err := s.keys(ctx, tx, ids)
		if err != nil {
			return err
		}
		changed := map[string][]byte{}
		for _, r := range rows {
			o, err := r.order(keys[r.ID])
			if err != nil {
				return err
			}
			oldEmail, oldPhone := r.EmailHash, r.PhoneHash
			s.index(o)
			if err := s.rows().rehash(ctx, tx, rehashParams{ID: o.ID, EmailHash: o.EmailHash, PhoneHash: o.PhoneHash,
				ReferenceHash: s.referenceHash(o.ResellerID, o.Reference), LookupVersion: version}); err != nil {
				return fmt.Errorf("re-hash order: %w", err)
			}
			if len(oldEmail) > 0 {
				changed[hex.EncodeToString(oldEmail)] = o.EmailHash
			}
			if len(oldPhone) > 0 {
				changed[hex.EncodeToString(oldPhone)] = o.PhoneHash
			}
			n++
		}
		last = rows[len(rows)-1].ID
		if s.Rehashed != nil {
			return s.Rehashed(ctx, tx, changed, version)
		}
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("re-hash orders: %w", err)
	}
	return n, last, nil
}

// LookupVersions returns the lookup key versions live orders' hashes were
// made with: a retired key among them must not be destroyed yet.
func (s *Service) LookupVersions(ctx context.Context) (map[uint32]bool, error) {
	vs, err := s.rows().lookupVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("lookup key versions: %w", err)
	}
	out := map[uint32]bool{}
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}
