package sharing

import (
	"context"
	"fmt"
	"slices"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Payloads that carry personal data (disclosures, updates, the reseller's
// status webhooks) are stored sealed with their order's data key, and so
// are the recorded answers to them; ids-only payloads stay plain, since an
// erasure notice is sent after the key is gone.

// SealPayloads seals the plain payloads and answer bodies of the given
// orders (a database from before the vault, whose orders were just
// sealed) with their data keys, 200 orders to a transaction.
func (s *Deliveries) SealPayloads(ctx context.Context, v *vault.Vault, orderIDs []string) error {
	for part := range slices.Chunk(orderIDs, 200) {
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			keys, err := v.GetMany(ctx, tx, part)
			if err != nil {
				return err
			}
			ps, err := s.rows().plainPayloads(ctx, tx, part)
			if err != nil {
				return fmt.Errorf("find plain payloads: %w", err)
			}
			for _, p := range ps {
				k := keys[p.OrderID]
				if k == nil {
					continue
				}
				if err := s.rows().sealPayload(ctx, tx, p.ID, k.Seal(p.Payload, payloadAAD(p.ID))); err != nil {
					return fmt.Errorf("seal payload: %w", err)
				}
			}
			bs, err := s.rows().plainBodies(ctx, tx, part)
			if err != nil {
				return fmt.Errorf("find plain answer bodies: %w", err)
			}
			for _, b := range bs {
				k := keys[b.OrderID]
				if k == nil {
					continue
				}
				if err := s.rows().sealBody(ctx, tx, b.DeliveryID, b.Attempt, k.Seal(b.Body, bodyAAD(b.DeliveryID, b.Attempt))); err != nil {
					return fmt.Errorf("seal answer body: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
