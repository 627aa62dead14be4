package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

const (
	orderColumns = `id, reseller_id, reference, status, customer_name, customer_email, customer_phone,
		ship_organization, ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country,
		notes, created_at, updated_at, closed_at, erased_at, close_reason, email_hash, phone_hash, sealed, reference_hash`
	// bound: the order's recipients' answers and timeline are sealed bound
	// to their owner (seal.go).
	sqlInsertOrder = `INSERT INTO orders (` + orderColumns + `, bound, lookup_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, 1, $25)`
	sqlInsertItem   = `INSERT INTO order_items (order_id, line, sku, quantity) VALUES ($1, $2, $3, $4)`
	sqlSelectOrder  = `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	sqlOrderByRef   = `SELECT id FROM orders WHERE reseller_id = $1 AND reference_hash IN ($2, $3)`
	sqlUpdateStatus = `UPDATE orders SET status = $1, updated_at = $2, closed_at = $3 WHERE id = $4`
	// A page of one reseller's orders ($1), of any status or of $2, newest
	// first, up to $3; the next pages start after an id ($3, up to $4).
	sqlListOrders      = `SELECT ` + orderColumns + ` FROM orders WHERE reseller_id = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT $3`
	sqlListOrdersAfter = `SELECT ` + orderColumns + ` FROM orders WHERE reseller_id = $1 AND ($2 = '' OR status = $2) AND id < $3
		ORDER BY id DESC LIMIT $4`
	sqlCatalog        = `SELECT sku, name FROM catalog WHERE orderable = 1 ORDER BY sku`
	sqlIdempotencyGet = `SELECT request_hash, order_id, status_code FROM idempotency_keys WHERE reseller_id = $1 AND key = $2 AND expires_at > $3`
	sqlIdempotencyPut = `INSERT INTO idempotency_keys (reseller_id, key, request_hash, order_id, status_code, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (reseller_id, key) DO UPDATE SET request_hash = excluded.request_hash, order_id = excluded.order_id,
			status_code = excluded.status_code, created_at = excluded.created_at, expires_at = excluded.expires_at`
	sqlIdempotencyPurge = `DELETE FROM idempotency_keys WHERE expires_at <= $1`
)

type orderRow struct {
	ID               string     `db:"id"`
	ResellerID       string     `db:"reseller_id"`
	Reference        string     `db:"reference"`
	Status           string     `db:"status"`
	CustomerName     string     `db:"customer_name"`
	CustomerEmail    string     `db:"customer_email"`
	CustomerPhone    string     `db:"customer_phone"`
	ShipOrganization string     `db:"ship_organization"`
	ShipLine1        string     `db:"ship_line1"`
	ShipLine2        string     `db:"ship_line2"`
	ShipCity         string     `db:"ship_city"`
	ShipPostalCode   string     `db:"ship_postal_code"`
	ShipRegion       string     `db:"ship_region"`
	ShipCountry      string     `db:"ship_country"`
	Notes            string     `db:"notes"`
	CreatedAt        store.Time `db:"created_at"`
	UpdatedAt        store.Time `db:"updated_at"`
	ClosedAt         store.Time `db:"closed_at"`
	ErasedAt         store.Time `db:"erased_at"`
	CloseReason      *string    `db:"close_reason"`
	EmailHash        []byte     `db:"email_hash"`
	PhoneHash        []byte     `db:"phone_hash"`
	Sealed           bool       `db:"sealed"`
	ReferenceHash    []byte     `db:"reference_hash"`
}

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
	if s.Vault != nil {
		k, err := s.Vault.Create(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		o.key = k
	}
	k, c, a := o.key, o.Customer, o.ShipTo
	if _, err := tx.ExecContext(ctx, sqlInsertOrder, o.ID, o.ResellerID, seal(k, o.Reference, aadReference), o.Status,
		seal(k, c.Name, aadName), seal(k, c.Email, aadEmail), seal(k, c.Phone, aadPhone),
		seal(k, a.Organization, aadOrg), seal(k, a.Line1, aadLine1), seal(k, a.Line2, aadLine2), seal(k, a.City, aadCity),
		seal(k, a.PostalCode, aadPostal), seal(k, a.Region, aadRegion), seal(k, a.Country, aadCountry),
		seal(k, o.Notes, aadNotes), store.FormatTime(o.CreatedAt), store.FormatTime(o.UpdatedAt), closed, store.Time{},
		nil, nilIfEmpty(o.EmailHash), nilIfEmpty(o.PhoneHash), k != nil,
		s.referenceHash(o.ResellerID, o.Reference), s.lookupVersion()); err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	items := make([]any, 0, 4*len(o.Items))
	for i, it := range o.Items {
		items = append(items, o.ID, i+1, it.SKU, it.Quantity)
	}
	if err := store.InsertRows(ctx, tx, sqlInsertItem, 4, items); err != nil {
		return fmt.Errorf("insert order items: %w", err)
	}
	return nil
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// getOrder reads one order with its items and answers through q, its
// personal values opened.
func (s *Service) getOrder(ctx context.Context, q sqlx.QueryerContext, id string) (*Order, error) {
	var r orderRow
	query := sqlSelectOrder
	if _, inTx := q.(*store.Tx); inTx {
		// Read to be changed: on PostgreSQL, where other processes write
		// too, the row stays locked until this transaction ends.
		query = statements.For(s.DB.Engine).orderForUpdate
	}
	if err := sqlx.GetContext(ctx, q, &r, query, id); err != nil {
		if store.IsNoRows(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get order: %w", err)
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
	var rows []struct {
		OrderID  string `db:"order_id"`
		SKU      string `db:"sku"`
		Quantity int    `db:"quantity"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, statements.For(s.DB.Engine).items, s.DB.List(ids)); err != nil {
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
	query, args := sqlListOrders, []any{f.ResellerID, f.Status, f.Limit}
	if f.After != "" {
		query, args = sqlListOrdersAfter, []any{f.ResellerID, f.Status, f.After, f.Limit}
	}
	var rows []orderRow
	if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
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

// catalog reads the orderable SKUs.
func catalog(ctx context.Context, q sqlx.QueryerContext) ([]CatalogItem, error) {
	var out []CatalogItem
	if err := sqlx.SelectContext(ctx, q, &out, sqlCatalog); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return out, nil
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
	if _, err := tx.ExecContext(ctx, sqlUpdateStatus, st, store.FormatTime(now), closed, o.ID); err != nil {
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
