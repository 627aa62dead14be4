package orders

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/vault"
)

// Every personal value the orders package stores is sealed with its
// order's data key (package vault): the customer and address columns, the
// notes and the reference, recipients' free text and tracking, the
// timeline's callback details, and an operator's reason for a close.
// Each is bound to its column, so a sealed value moved elsewhere does not
// open. The reference stays unique per reseller through a keyed hash.

// Column names a sealed value is bound to.
const (
	aadReference   = "orders.reference"
	aadName        = "orders.customer_name"
	aadEmail       = "orders.customer_email"
	aadPhone       = "orders.customer_phone"
	aadOrg         = "orders.ship_organization"
	aadLine1       = "orders.ship_line1"
	aadLine2       = "orders.ship_line2"
	aadCity        = "orders.ship_city"
	aadPostal      = "orders.ship_postal_code"
	aadRegion      = "orders.ship_region"
	aadCountry     = "orders.ship_country"
	aadNotes       = "orders.notes"
	aadCloseReason = "orders.close_reason"
	aadMessage     = "order_recipients.message"
	aadCarrier     = "order_recipients.carrier"
	aadTracking    = "order_recipients.tracking_number"
	aadTrackingURL = "order_recipients.tracking_url"
	aadDetails     = "order_events.details"
)

// seal returns the stored form of a personal value: sealed with k, or ""
// for the empty value. Without a key (a service without a vault, in some
// tests) values are stored as they are.
func seal(k *vault.Key, s, aad string) any {
	if s == "" || k == nil {
		return s
	}
	return k.SealString(s, aad)
}

// sealOpt is seal for a nullable column: nil stays NULL.
func sealOpt(k *vault.Key, s *string, aad string) any {
	if s == nil {
		return nil
	}
	return seal(k, *s, aad)
}

// opener opens the values of one order, remembering the first failure so
// that a row's columns are opened in a row and checked once.
type opener struct {
	k   *vault.Key
	err error
}

func (o *opener) text(s, aad string) string {
	if o.k == nil || !vault.IsSealed([]byte(s)) || o.err != nil {
		return s
	}
	out, err := o.k.OpenString([]byte(s), aad)
	if err != nil {
		o.err = err
		return ""
	}
	return out
}

func (o *opener) opt(s *string, aad string) *string {
	if s == nil {
		return nil
	}
	v := o.text(*s, aad)
	return &v
}

// keys returns the data keys of the given orders through q (nil without a
// vault); an order without one (erased, or not yet sealed) is absent.
func (s *Service) keys(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string]*vault.Key, error) {
	if s.Vault == nil || len(ids) == 0 {
		return map[string]*vault.Key{}, nil
	}
	return s.Vault.GetMany(ctx, q, ids)
}

// referenceHash is the keyed hash that keeps a sealed reference unique per
// reseller, in the column the unique index covers. A service without a
// keyring (some package tests) keeps the reference itself there.
func (s *Service) referenceHash(resellerID, reference string) any {
	if s.Hash == nil {
		return reference
	}
	return s.Hash("reference", resellerID+"\x00"+reference)
}

// DataKey is the order's data key, for the hooks that store its personal
// data elsewhere (the outbox's payloads); nil once erased.
func (o *Order) DataKey() *vault.Key { return o.key }

func errOpen(id string, err error) error {
	return fmt.Errorf("open the sealed data of %s: %w", id, err)
}

const (
	sqlUnsealed = `SELECT ` + orderColumns + ` FROM orders INDEXED BY orders_unsealed WHERE sealed = 0 AND erased_at IS NULL
		ORDER BY id LIMIT 500`
	sqlSealOrder = `UPDATE orders SET reference = ?, customer_name = ?, customer_email = ?, customer_phone = ?, ship_organization = ?,
		ship_line1 = ?, ship_line2 = ?, ship_city = ?, ship_postal_code = ?, ship_region = ?, ship_country = ?, notes = ?,
		close_reason = ?, email_hash = ?, phone_hash = ?, reference_hash = ?, sealed = 1 WHERE id = ?`
	sqlAnswerText = `SELECT order_id, partner_id, message, carrier, tracking_number, tracking_url FROM order_recipients WHERE order_id = ?`
	sqlSealAnswer = `UPDATE order_recipients SET message = ?, carrier = ?, tracking_number = ?, tracking_url = ?
		WHERE order_id = ? AND partner_id = ?`
	sqlEventText = `SELECT id, details FROM order_events WHERE order_id = ? AND details != '{}'`
	sqlSealEvent = `UPDATE order_events SET details = ? WHERE id = ?`
)

// SealPlaintext seals the orders a database from before the vault holds in
// plain text, 500 to a transaction: each gets a data key, and its columns,
// recipients' answers and timeline details are sealed with it; its keyed
// hashes are set too. It returns the orders it sealed, whose webhook
// payloads the outbox seals next. Once all are sealed it reads one index
// entry and changes nothing.
func (s *Service) SealPlaintext(ctx context.Context) ([]string, error) {
	if s.Vault == nil {
		return nil, nil
	}
	var done []string
	for {
		var rows []orderRow
		if err := s.DB.Reader.SelectContext(ctx, &rows, sqlUnsealed); err != nil {
			return done, fmt.Errorf("find unsealed orders: %w", err)
		}
		if len(rows) == 0 {
			return done, nil
		}
		err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
			for _, r := range rows {
				if err := s.sealOne(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		for _, r := range rows {
			done = append(done, r.ID)
		}
	}
}

func (s *Service) sealOne(ctx context.Context, tx *sqlx.Tx, r orderRow) error {
	o, err := r.order(nil)
	if err != nil {
		return err
	}
	k, err := s.Vault.Create(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	s.index(o)
	c, a := o.Customer, o.ShipTo
	if _, err := tx.ExecContext(ctx, sqlSealOrder, seal(k, o.Reference, aadReference), seal(k, c.Name, aadName),
		seal(k, c.Email, aadEmail), seal(k, c.Phone, aadPhone), seal(k, a.Organization, aadOrg), seal(k, a.Line1, aadLine1),
		seal(k, a.Line2, aadLine2), seal(k, a.City, aadCity), seal(k, a.PostalCode, aadPostal), seal(k, a.Region, aadRegion),
		seal(k, a.Country, aadCountry), seal(k, o.Notes, aadNotes),
		sealOpt(k, r.CloseReason, aadCloseReason), nilIfEmpty(o.EmailHash), nilIfEmpty(o.PhoneHash),
		s.referenceHash(o.ResellerID, o.Reference), o.ID); err != nil {
		return fmt.Errorf("seal order: %w", err)
	}
	var answers []struct {
		OrderID     string  `db:"order_id"`
		PartnerID   string  `db:"partner_id"`
		Message     *string `db:"message"`
		Carrier     *string `db:"carrier"`
		Tracking    *string `db:"tracking_number"`
		TrackingURL *string `db:"tracking_url"`
	}
	if err := tx.SelectContext(ctx, &answers, sqlAnswerText, o.ID); err != nil {
		return fmt.Errorf("seal answers: %w", err)
	}
	for _, an := range answers {
		if _, err := tx.ExecContext(ctx, sqlSealAnswer, sealOpt(k, an.Message, aadMessage), sealOpt(k, an.Carrier, aadCarrier),
			sealOpt(k, an.Tracking, aadTracking), sealOpt(k, an.TrackingURL, aadTrackingURL), an.OrderID, an.PartnerID); err != nil {
			return fmt.Errorf("seal answers: %w", err)
		}
	}
	var events []struct {
		ID      int64  `db:"id"`
		Details string `db:"details"`
	}
	if err := tx.SelectContext(ctx, &events, sqlEventText, o.ID); err != nil {
		return fmt.Errorf("seal events: %w", err)
	}
	for _, ev := range events {
		if _, err := tx.ExecContext(ctx, sqlSealEvent, seal(k, ev.Details, aadDetails), ev.ID); err != nil {
			return fmt.Errorf("seal events: %w", err)
		}
	}
	return nil
}
