package orders

import (
	"context"
	"fmt"
	"slices"
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

// index sets o's keyed hashes from its contact, and the lookup key
// version they were made with; while older lookup keys are held, its
// hashes under every one too (LookupHashes), for matching a restriction
// made under one of them.
func (s *Service) index(o *Order) {
	o.LookupVersion, o.LookupHashes = s.lookupVersion(), nil
	if s.Hashes == nil {
		o.EmailHash, o.PhoneHash = s.subjectHashes(o.Customer.Email, o.Customer.Phone)
		return
	}
	// One pass: the current key's hashes come first.
	ehs, phs := s.SubjectHashes(o.Customer.Email, o.Customer.Phone)
	o.EmailHash, o.PhoneHash = nil, nil
	if len(ehs) > 0 {
		o.EmailHash = ehs[0]
	}
	if len(phs) > 0 {
		o.PhoneHash = phs[0]
	}
	if len(ehs) > 1 || len(phs) > 1 {
		o.LookupHashes = append(ehs, phs...)
	}
}

func (s *Service) lookupVersion() uint32 {
	if s.LookupVersion == nil {
		return 1
	}
	return s.LookupVersion()
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
// by, normalised as orders are (the email in lower case, the phone in
// E.164), under every lookup key held, the current one first; none for an
// identifier not given.
func (s *Service) SubjectHashes(email, phone string) (ehs, phs [][]byte) {
	if s.Hashes == nil {
		eh, ph := s.subjectHashes(email, phone)
		if len(eh) > 0 {
			ehs = [][]byte{eh}
		}
		if len(ph) > 0 {
			phs = [][]byte{ph}
		}
		return ehs, phs
	}
	if e := NormalizeEmail(email); e != "" {
		ehs = s.Hashes("email", e)
	}
	if phone != "" {
		phs = s.Hashes("phone", phone)
	}
	return ehs, phs
}

// LookupVersionNow is the lookup key version hashes are made with now.
func (s *Service) LookupVersionNow() uint32 { return s.lookupVersion() }

const subjectColumns = retentionColumns + `, close_reason IS NOT NULL AS operator_closed, email_hash, phone_hash, lookup_version,
	erased_at IS NOT NULL AS erased`

// SubjectOrder is what a subject request sees of one of the person's
// orders: ids, state and dates, never the personal values.
type SubjectOrder struct {
	RetentionRow
	// OperatorClosed: an operator closed it (`husky orders close`).
	OperatorClosed bool `json:"operator_closed,omitempty"`
	// Erased: the order's personal data is gone (its hashes too).
	Erased bool `json:"erased,omitempty"`
	// EmailHash and PhoneHash are the keyed hashes of the contact the
	// order holds now (nil where it holds none, or is erased): what a
	// request compares its identifiers with. Never sent to a client.
	EmailHash []byte `json:"-"`
	PhoneHash []byte `json:"-"`
	// LookupVersion is the lookup key the hashes were made with: hashes
	// of two versions cannot be compared.
	LookupVersion uint32 `json:"-"`
}

type subjectScan struct {
	retentionScan
	OperatorClosed bool   `db:"operator_closed"`
	EmailHash      []byte `db:"email_hash"`
	PhoneHash      []byte `db:"phone_hash"`
	LookupVersion  uint32 `db:"lookup_version"`
	Erased         bool   `db:"erased"`
}

func (s *Service) subjectOrder(r subjectScan) SubjectOrder {
	return SubjectOrder{RetentionRow: s.retentionRow(r.retentionScan), OperatorClosed: r.OperatorClosed, Erased: r.Erased,
		EmailHash: r.EmailHash, PhoneHash: r.PhoneHash, LookupVersion: r.LookupVersion}
}

// FindSubject returns every order, of any reseller, whose email has one of
// the keyed hashes ehs or whose phone has one of phs (either may be
// empty), oldest first. Erased orders are not indexed and never found.
func (s *Service) FindSubject(ctx context.Context, q sqlx.QueryerContext, ehs, phs [][]byte) ([]SubjectOrder, error) {
	if q == nil {
		q = s.DB.Reader
	}
	rows, err := s.rows().subjectByHashes(ctx, q, ehs, phs)
	if err != nil {
		return nil, fmt.Errorf("find subject: %w", err)
	}
	out := make([]SubjectOrder, len(rows))
	for i, r := range rows {
		out[i] = s.subjectOrder(r)
	}
	return out, nil
}

// SubjectOrders returns the given orders as a subject request sees them,
// erased ones included, by id; an unknown id is left out.
func (s *Service) SubjectOrders(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]SubjectOrder, error) {
	if q == nil {
		q = s.DB.Reader
	}
	out := make([]SubjectOrder, 0, len(ids))
	for part := range slices.Chunk(ids, 500) {
		rows, err := s.rows().subjectByID(ctx, q, part)
		if err != nil {
			return nil, fmt.Errorf("subject orders: %w", err)
		}
		for _, r := range rows {
			out = append(out, s.subjectOrder(r))
		}
	}
	return out, nil
}

// GetTx reads any order with its items and recipients' answers through q
// (the caller's transaction), or ErrNotFound.
func (s *Service) GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (*Order, error) {
	return s.getOrder(ctx, q, id)
}
