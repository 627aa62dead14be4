package sharing

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Payloads that carry personal data (disclosures, updates, the reseller's
// status webhooks) are stored sealed with their order's data key, and so
// are the recorded answers to them; ids-only payloads stay plain, since an
// erasure notice is sent after the key is gone.

const (
	sqlPlainPayloads = `SELECT id, order_id, payload FROM deliveries WHERE order_id IN (?) AND length(payload) > 0
		AND (fields != '' OR event_type = '` + EventOrderStatusChanged + `') AND substr(payload, 1, 1) != x'00'`
	sqlSealPayload = `UPDATE deliveries SET payload = ? WHERE id = ?`
	sqlPlainBodies = `SELECT a.delivery_id, a.attempt, d.order_id, a.response_body FROM delivery_attempts a
		JOIN deliveries d ON d.id = a.delivery_id
		WHERE d.order_id IN (?) AND a.response_body IS NOT NULL AND substr(a.response_body, 1, 1) != x'00'`
	sqlSealBody = `UPDATE delivery_attempts SET response_body = ? WHERE delivery_id = ? AND attempt = ?`
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
			q, args, err := sqlx.In(sqlPlainPayloads, part)
			if err != nil {
				return err
			}
			var ps []struct {
				ID      string `db:"id"`
				OrderID string `db:"order_id"`
				Payload []byte `db:"payload"`
			}
			if err := tx.SelectContext(ctx, &ps, q, args...); err != nil {
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
			q, args, err = sqlx.In(sqlPlainBodies, part)
			if err != nil {
				return err
			}
			var bs []struct {
				DeliveryID string `db:"delivery_id"`
				Attempt    int    `db:"attempt"`
				OrderID    string `db:"order_id"`
				Body       []byte `db:"response_body"`
			}
			if err := tx.SelectContext(ctx, &bs, q, args...); err != nil {
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
