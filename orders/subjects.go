package orders

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// What the orders package offers data-subject requests (GDPR Art. 15-21):
// the keyed-hash index of each order's contact, the lookup of a person's
// orders through it, and rectification.

// NormalizeEmail returns the form an email is matched in: trimmed and in
// lower case, so that Jane@Example.dk and jane@example.dk are one person.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone returns a phone number in E.164 read with the same rules
// as an order's (a national number is read as one of country), or why it
// is not a phone number.
func NormalizePhone(s, country string) (string, string) {
	return normalizePhone(strings.TrimSpace(s), country)
}

// index sets o's keyed hashes from its contact.
func (s *Service) index(o *Order) {
	o.EmailHash, o.PhoneHash = s.subjectHashes(o.Customer.Email, o.Customer.Phone)
}

// subjectHashes returns the keyed hashes of an email and an E.164 phone,
// nil for an empty one or when the service has no hasher.
func (s *Service) subjectHashes(email, phone string) (eh, ph []byte) {
	if s.Hash == nil {
		return nil, nil
	}
	if e := NormalizeEmail(email); e != "" {
		eh = s.Hash("email", e)
	}
	if phone != "" {
		ph = s.Hash("phone", phone)
	}
	return eh, ph
}

// SubjectHashes returns the keyed hashes a subject request names a person
// by, normalised as orders are: the email in lower case, the phone in
// E.164.
func (s *Service) SubjectHashes(email, phone string) (eh, ph []byte) {
	return s.subjectHashes(email, phone)
}

const (
	sqlUnindexed = `SELECT id, customer_email, customer_phone FROM orders
		WHERE erased_at IS NULL AND email_hash IS NULL AND phone_hash IS NULL AND id > ? ORDER BY id LIMIT 1000`
	sqlSetHashes = `UPDATE orders SET email_hash = ?, phone_hash = ? WHERE id = ?`
	// Two index lookups, never a scan: the union of the orders with the
	// email and those with the phone.
	sqlSubjectOrders = `SELECT ` + retentionColumns + `, close_reason IS NOT NULL AS operator_closed FROM orders WHERE id IN (
		SELECT id FROM orders INDEXED BY orders_email_hash WHERE email_hash = ?
		UNION SELECT id FROM orders INDEXED BY orders_phone_hash WHERE phone_hash = ?) ORDER BY id`
)

// IndexSubjects gives every order not yet indexed (a database from before
// the index) its keyed hashes, in batches, and returns how many it did.
func (s *Service) IndexSubjects(ctx context.Context) (int, error) {
	if s.Hash == nil {
		return 0, nil
	}
	n, after := 0, ""
	for {
		var rows []struct {
			ID    string `db:"id"`
			Email string `db:"customer_email"`
			Phone string `db:"customer_phone"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, sqlUnindexed, after); err != nil {
			return n, fmt.Errorf("index subjects: %w", err)
		}
		if len(rows) == 0 {
			return n, nil
		}
		err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
			for _, r := range rows {
				eh, ph := s.subjectHashes(r.Email, r.Phone)
				if _, err := tx.ExecContext(ctx, sqlSetHashes, nilIfEmpty(eh), nilIfEmpty(ph), r.ID); err != nil {
					return fmt.Errorf("index subjects: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(rows)
		after = rows[len(rows)-1].ID
	}
}

// SubjectOrder is what a subject request sees of one of the person's
// orders: ids, state and dates, never the personal values.
type SubjectOrder struct {
	RetentionRow
	// OperatorClosed: an operator closed it (`husky orders close`).
	OperatorClosed bool `json:"operator_closed,omitempty"`
}

// FindSubject returns every order, of any reseller, whose email has the
// keyed hash eh or whose phone has ph (either may be nil), oldest first.
// Erased orders are not indexed and never found.
func (s *Service) FindSubject(ctx context.Context, q sqlx.QueryerContext, eh, ph []byte) ([]SubjectOrder, error) {
	if q == nil {
		q = s.DB.Reader
	}
	var rows []struct {
		retentionScan
		OperatorClosed bool `db:"operator_closed"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, sqlSubjectOrders, nilIfEmpty(eh), nilIfEmpty(ph)); err != nil {
		return nil, fmt.Errorf("find subject: %w", err)
	}
	out := make([]SubjectOrder, len(rows))
	for i, r := range rows {
		out[i] = SubjectOrder{RetentionRow: r.retentionScan.row(), OperatorClosed: r.OperatorClosed}
	}
	return out, nil
}

// GetTx reads any order with its items and recipients' answers through q
// (the caller's transaction), or ErrNotFound.
func (s *Service) GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (*Order, error) {
	return getOrder(ctx, q, id)
}
