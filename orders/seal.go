package orders

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Every personal value the orders package stores is sealed with its
// order's data key (package vault): the customer and address columns, the
// notes and the reference, recipients' free text and tracking, the
// timeline's callback details, and an operator's reason for a close.
// Each is bound to its order, its column and, where the row has one, its
// owner: a recipient's answer to that recipient, a timeline entry to its
// type and recipient. So a sealed value moved to another row (a carrier's
// text put in another recipient's row of the same order) does not open;
// and in a sealed column only a sealed value is served: a plain one put
// there is refused (vault.ErrNotSealed), never shown. The reference stays
// unique per reseller through a keyed hash.

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

// answerAAD binds a recipient's answer column to the recipient.
func answerAAD(column, partnerID string) string { return column + "\x00" + partnerID }

// eventAAD binds a timeline entry's details to its type and recipient.
func eventAAD(typ, partnerID string) string { return aadDetails + "\x00" + typ + "\x00" + partnerID }

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

// text opens a sealed column's value; the empty value stays empty, and
// without a key (an erased order, one not yet sealed) the value is as
// stored. Anything else must open: a plain value fails (vault.ErrNotSealed).
func (o *opener) text(s, aad string) string {
	if s == "" || o.k == nil || o.err != nil {
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

// olderReferenceHashes returns the reference's keyed hashes under the
// retired lookup keys still held (none, usually).
func (s *Service) olderReferenceHashes(resellerID, reference string) [][]byte {
	if s.Hashes == nil {
		return nil
	}
	return s.Hashes("reference", resellerID+"\x00"+reference)[1:]
}

// DataKey is the order's data key, for the hooks that store its personal
// data elsewhere (the outbox's payloads); nil once erased.
func (o *Order) DataKey() *vault.Key { return o.key }

func errOpen(id string, err error) error {
	return fmt.Errorf("open the sealed data of %s: %w", id, err)
}

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
		rows, err := s.rows().unsealed(ctx)
		if err != nil {
			return done, fmt.Errorf("find unsealed orders: %w", err)
		}
		if len(rows) == 0 {
			return done, nil
		}
		err = s.DB.Tx(ctx, func(tx *store.Tx) error {
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

func (s *Service) sealOne(ctx context.Context, tx *store.Tx, r orderRow) error {
	o, err := r.order(nil)
	if err != nil {
		return err
	}
	k, err := s.Vault.Create(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	s.index(o)
	if err := s.rows().seal(ctx, tx, sealOrderParams{ID: o.ID, Personal: sealPersonal(k, o),
		CloseReason: sealOpt(k, r.CloseReason, aadCloseReason), EmailHash: o.EmailHash, PhoneHash: o.PhoneHash,
		ReferenceHash: s.referenceHash(o.ResellerID, o.Reference), LookupVersion: o.LookupVersion}); err != nil {
		return fmt.Errorf("seal order: %w", err)
	}
	answers, err := s.rows().answerTexts(ctx, tx, o.ID)
	if err != nil {
		return fmt.Errorf("seal answers: %w", err)
	}
	for _, an := range answers {
		p := an.PartnerID
		if err := s.rows().sealAnswer(ctx, tx, sealAnswerParams{OrderID: an.OrderID, PartnerID: p,
			Message: sealOpt(k, an.Message, answerAAD(aadMessage, p)), Carrier: sealOpt(k, an.Carrier, answerAAD(aadCarrier, p)),
			Tracking: sealOpt(k, an.Tracking, answerAAD(aadTracking, p)), TrackingURL: sealOpt(k, an.TrackingURL, answerAAD(aadTrackingURL, p))}); err != nil {
			return fmt.Errorf("seal answers: %w", err)
		}
	}
	events, err := s.rows().eventTexts(ctx, tx, o.ID)
	if err != nil {
		return fmt.Errorf("seal events: %w", err)
	}
	for _, ev := range events {
		if err := s.rows().sealEvent(ctx, tx, ev.ID, seal(k, ev.Details, eventAAD(ev.Type, ev.PartnerID))); err != nil {
			return fmt.Errorf("seal events: %w", err)
		}
	}
	return nil
}

// BindSealed binds to their owner what orders sealed before owners were
// part of a value's binding: each recipient's answers, and each timeline
// entry's details, opened as they were sealed (bound to the order and
// column only) and sealed again bound to the recipient, 500 orders to a
// transaction. It runs at start, before anything is served; once done it
// reads one index entry. It returns how many orders it bound.
func (s *Service) BindSealed(ctx context.Context) (int, error) {
	if s.Vault == nil {
		return 0, nil
	}
	n := 0
	for {
		ids, err := s.rows().unbound(ctx)
		if err != nil {
			return n, fmt.Errorf("find orders to bind: %w", err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		err = s.DB.Tx(ctx, func(tx *store.Tx) error {
			keys, err := s.Vault.GetMany(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := s.bindOne(ctx, tx, id, keys[id]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(ids)
	}
}

// bindOne re-seals one order's answers and timeline bound to their owner.
func (s *Service) bindOne(ctx context.Context, tx *store.Tx, id string, k *vault.Key) error {
	if k != nil {
		// A value sealed as before is sealed again, bound; one bound
		// already (written since, by this version) stays as it is.
		rebind := func(v *string, column, bound string) (any, error) {
			if v == nil || *v == "" {
				return v, nil
			}
			if !vault.IsSealed([]byte(*v)) {
				// Written plain before (a rectification's field names).
				return k.SealString(*v, bound), nil
			}
			plain, err := k.OpenString([]byte(*v), column)
			if err != nil {
				if _, berr := k.OpenString([]byte(*v), bound); berr == nil {
					return []byte(*v), nil
				}
				return nil, errOpen(id, err)
			}
			return k.SealString(plain, bound), nil
		}
		answers, err := s.rows().answerTexts(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("bind answers: %w", err)
		}
		for _, an := range answers {
			var vals [4]any
			for i, c := range []struct {
				v      *string
				column string
			}{{an.Message, aadMessage}, {an.Carrier, aadCarrier}, {an.Tracking, aadTracking}, {an.TrackingURL, aadTrackingURL}} {
				var err error
				if vals[i], err = rebind(c.v, c.column, answerAAD(c.column, an.PartnerID)); err != nil {
					return err
				}
			}
			if err := s.rows().sealAnswer(ctx, tx, sealAnswerParams{OrderID: id, PartnerID: an.PartnerID,
				Message: vals[0], Carrier: vals[1], Tracking: vals[2], TrackingURL: vals[3]}); err != nil {
				return fmt.Errorf("bind answers: %w", err)
			}
		}
		events, err := s.rows().eventTexts(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("bind events: %w", err)
		}
		for _, ev := range events {
			v, err := rebind(&ev.Details, aadDetails, eventAAD(ev.Type, ev.PartnerID))
			if err != nil {
				return err
			}
			if err := s.rows().sealEvent(ctx, tx, ev.ID, v); err != nil {
				return fmt.Errorf("bind events: %w", err)
			}
		}
	}
	if err := s.rows().markBound(ctx, tx, id); err != nil {
		return fmt.Errorf("bind order: %w", err)
	}
	return nil
}
