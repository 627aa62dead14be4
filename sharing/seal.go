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

const (
	sqlSealPayload = `UPDATE deliveries SET payload = $1 WHERE id = $2`
	sqlSealBody    = `UPDATE delivery_attempts SET response_body = $1 WHERE delivery_id = $2 AND attempt = $3`
)

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
			var ps []struct {
				ID      string `db:"id"`
				OrderID string `db:"order_id"`
				Payload []byte `db:"payload"`
			}
			if err := tx.SelectContext(ctx, &ps, statements.For(tx.Engine()).plainPays, tx.List(part)); err != nil {
				return fmt.Errorf("find plain payloads: %w", err)
			}
			for _, p := range ps {
				k := keys[p.OrderID]
				if k == nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, sqlSealPayload, k.Seal(p.Payload, payloadAAD(p.ID)), p.ID); err != nil {
					return fmt.Errorf("seal payload: %w", err)
				}
			}
			var bs []struct {
				DeliveryID string `db:"delivery_id"`
				Attempt    int    `db:"attempt"`
				OrderID    string `db:"order_id"`
				Body       []byte `db:"response_body"`
			}
			if err := tx.SelectContext(ctx, &bs, statements.For(tx.Engine()).plainBodies, tx.List(part)); err != nil {
				return fmt.Errorf("find plain answer bodies: %w", err)
			}
			for _, b := range bs {
				k := keys[b.OrderID]
				if k == nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, sqlSealBody, k.Seal(b.Body, bodyAAD(b.DeliveryID, b.Attempt)), b.DeliveryID, b.Attempt); err != nil {
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
