package orders

// Reading and writing whole orders through orderRows: their sealed values
// opened or sealed with the order's data key, their items and answers
// joined.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// order returns the row as an order, its sealed values opened with k
// (the order's data key; nil for an erased or unsealed order).
func (r orderRow) order(k *vault.Key) (*Order, error) {
	op := &opener{k: k}
	o := &Order{
		ID: r.ID, ResellerID: r.ResellerID, Reference: op.text(r.Reference, aadReference), Status: Status(r.Status),
		Customer: Customer{Name: op.text(r.CustomerName, aadName), Email: op.text(r.CustomerEmail, aadEmail),
			Phone: op.text(r.CustomerPhone, aadPhone)},
		ShipTo: Address{Organization: op.text(r.ShipOrganization, aadOrg), Line1: op.text(r.ShipLine1, aadLine1),
			Line2: op.text(r.ShipLine2, aadLine2), City: op.text(r.ShipCity, aadCity), PostalCode: op.text(r.ShipPostalCode, aadPostal),
			Region: op.text(r.ShipRegion, aadRegion), Country: op.text(r.ShipCountry, aadCountry)},
		Notes: op.text(r.Notes, aadNotes), CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, Items: []Item{},
		Recipients: []Answer{}, Shipments: []Shipment{}, key: k,
	}
	if !r.ClosedAt.IsZero() {
		t := r.ClosedAt.Time
		o.ClosedAt = &t
	}
	o.ErasedAt = optTime(r.ErasedAt)
	o.CloseReason = deref(op.opt(r.CloseReason, aadCloseReason))
	o.EmailHash, o.PhoneHash = r.EmailHash, r.PhoneHash
	if op.err != nil {
		return nil, errOpen(r.ID, op.err)
	}
	return o, nil
}

// orders turns rows into orders, reading their data keys in one query.
func (s *Service) orders(ctx context.Context, q sqlx.QueryerContext, rows []orderRow) ([]*Order, error) {
	var ids []string
	for _, r := range rows {
		if r.Sealed && r.ErasedAt.IsZero() {
			ids = append(ids, r.ID)
		}
	}
	keys, err := s.keys(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Order, len(rows))
	for i, r := range rows {
		if out[i], err = r.order(keys[r.ID]); err != nil {
			return nil, err
		}
		s.dates(out[i])
	}
	return out, nil
}

// insertOrder stores a new order with its items inside tx, its personal
// values sealed with a data key of its own, created here.
func (s *Service) insertOrder(ctx context.Context, tx *store.Tx, o *Order) error {
	closed := store.Time{}
	if o.ClosedAt != nil {
		closed.Time = *o.ClosedAt
	}
	var wrapped *vault.Wrapped
	if s.Vault != nil {
		k, w, err := s.Vault.Make(o.ID)
		if err != nil {
			return err
		}
		o.key, wrapped = k, &w
	}
	k := o.key
	inserted, err := s.rows().insert(ctx, tx, insertOrderParams{ID: o.ID, ResellerID: o.ResellerID, Status: o.Status,
		Personal: sealPersonal(k, o), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, ClosedAt: closed,
		EmailHash: o.EmailHash, PhoneHash: o.PhoneHash, Sealed: k != nil,
		ReferenceHash: s.referenceHash(o.ResellerID, o.Reference), LookupVersion: s.lookupVersion(), Country: o.ShipTo.Country})
	switch {
	case err != nil:
		return fmt.Errorf("insert order: %w", err)
	case !inserted:
		return errDuplicateReference
	}
	if wrapped != nil {
		if err := s.Vault.Put(ctx, tx, *wrapped); err != nil {
			return err
		}
	}
	if err := s.rows().insertItems(ctx, tx, o.ID, o.Items); err != nil {
		return fmt.Errorf("insert order items: %w", err)
	}
	return nil
}

// errDuplicateReference is insertOrder's answer when the reseller already
// has an order with the reference: the unique index let nothing in.
var errDuplicateReference = errors.New("duplicate reference")

// sealPersonal returns the order's personal columns sealed with k.
func sealPersonal(k *vault.Key, o *Order) personalColumns {
	c, a := o.Customer, o.ShipTo
	return personalColumns{Reference: seal(k, o.Reference, aadReference), Name: seal(k, c.Name, aadName),
		Email: seal(k, c.Email, aadEmail), Phone: seal(k, c.Phone, aadPhone), Organization: seal(k, a.Organization, aadOrg),
		Line1: seal(k, a.Line1, aadLine1), Line2: seal(k, a.Line2, aadLine2), City: seal(k, a.City, aadCity),
		PostalCode: seal(k, a.PostalCode, aadPostal), Region: seal(k, a.Region, aadRegion), Country: seal(k, a.Country, aadCountry),
		Notes: seal(k, o.Notes, aadNotes)}
}

// getOrder reads one order with its items and answers through q, its
// personal values opened.
func (s *Service) getOrder(ctx context.Context, q sqlx.QueryerContext, id string) (*Order, error) {
	r, ok, err := s.rows().get(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	os, err := s.orders(ctx, q, []orderRow{r})
	if err != nil {
		return nil, err
	}
	o := os[0]
	if err := s.loadItems(ctx, q, os); err != nil {
		return nil, err
	}
	if err := s.loadAnswers(ctx, q, os); err != nil {
		return nil, err
	}
	return o, nil
}

func (s *Service) loadItems(ctx context.Context, q sqlx.QueryerContext, os []*Order) error {
	if len(os) == 0 {
		return nil
	}
	ids := make([]string, len(os))
	byID := make(map[string]*Order, len(os))
	for i, o := range os {
		ids[i] = o.ID
		byID[o.ID] = o
	}
	rows, err := s.rows().items(ctx, q, ids)
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	for _, r := range rows {
		o := byID[r.OrderID]
		o.Items = append(o.Items, Item{SKU: r.SKU, Quantity: r.Quantity})
	}
	return nil
}

// ListFilter selects a page of one reseller's orders, newest first.
type ListFilter struct {
	ResellerID string
	Status     Status
	After      string // exclusive: the last id of the previous page
	Limit      int
}

func (s *Service) listOrders(ctx context.Context, q sqlx.QueryerContext, f ListFilter) ([]*Order, error) {
	rows, err := s.rows().list(ctx, q, f)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	out, err := s.orders(ctx, q, rows)
	if err != nil {
		return nil, err
	}
	if err := s.loadItems(ctx, q, out); err != nil {
		return nil, err
	}
	return out, s.loadAnswers(ctx, q, out)
}

// setStatus moves o to st. Reaching a final state fixes closed_at, which
// retention counts from.
func (s *Service) setStatus(ctx context.Context, tx *store.Tx, o *Order, st Status, now time.Time) error {
	o.Status, o.UpdatedAt = st, now
	closed := store.Time{}
	if st.Final() {
		o.ClosedAt = &now
		closed.Time = now
		s.dates(o)
	}
	if err := s.rows().setStatus(ctx, tx, setStatusParams{ID: o.ID, Status: st, UpdatedAt: now, ClosedAt: closed}); err != nil {
		return fmt.Errorf("update order status: %w", err)
	}
	return nil
}

// dates sets a closed order's fiscal year and purge date from the calendar
// in force (s.Retention); nothing of them is stored.
func (s *Service) dates(o *Order) {
	if o.ClosedAt == nil || s.Retention == nil {
		return
	}
	fy, after := s.Retention(*o.ClosedAt)
	o.FiscalYear, o.PurgeAfter = &fy, &after
}

// NewID returns a new time-ordered order id, so that ids sort newest last
// and serve as pagination cursors.
func NewID() string {
	return base.NewID("ord_")
}
