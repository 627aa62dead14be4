package orders

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The orders table's statements (and order_items', catalog's and
// idempotency_keys'), as methods of orderRows; store_timeline.go has the
// recipients' answers, callback receipts and the timeline; what differs
// between the engines is in statements.go.
const (
	orderColumns = `id, reseller_id, reference, status, customer_name, customer_email, customer_phone,
		ship_organization, ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country,
		notes, created_at, updated_at, closed_at, erased_at, close_reason, email_hash, phone_hash, sealed, reference_hash`
	retentionColumns = `id, reseller_id, status, created_at, closed_at`
	// bound: the order's recipients' answers and timeline are sealed bound
	// to their owner (seal.go).
	// country: the delivery country's code in the clear, which a breach's
	// impact counts (breaches); cleared by erasure.
	sqlInsertOrder = `INSERT INTO orders (` + orderColumns + `, bound, lookup_version, country)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, 1, $25, $26)
		ON CONFLICT DO NOTHING`
	sqlInsertItem   = `INSERT INTO order_items (order_id, line, sku, quantity) VALUES ($1, $2, $3, $4)`
	sqlSelectOrder  = `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	sqlOrderByRef   = `SELECT id FROM orders WHERE reseller_id = $1 AND reference_hash IN ($2, $3)`
	sqlCountByRef   = `SELECT COUNT(*) FROM orders WHERE reseller_id = $1 AND reference_hash IN ($2, $3)`
	sqlUpdateStatus = `UPDATE orders SET status = $1, updated_at = $2, closed_at = $3 WHERE id = $4`
	sqlCloseOrder   = `UPDATE orders SET status = $1, updated_at = $2, closed_at = $3, close_reason = $4 WHERE id = $5`
	// A page of one reseller's orders ($1), of any status or of $2, newest
	// first, up to $3; the next pages start after an id ($3, up to $4).
	sqlListOrders      = `SELECT ` + orderColumns + ` FROM orders WHERE reseller_id = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT $3`
	sqlListOrdersAfter = `SELECT ` + orderColumns + ` FROM orders WHERE reseller_id = $1 AND ($2 = '' OR status = $2) AND id < $3
		ORDER BY id DESC LIMIT $4`
	sqlReceived = `SELECT id FROM orders WHERE status = 'received' AND id > $1 ORDER BY id LIMIT $2`
	sqlRectify  = `UPDATE orders SET customer_name = $1, customer_email = $2, customer_phone = $3, ship_organization = $4,
		ship_line1 = $5, ship_line2 = $6, ship_city = $7, ship_postal_code = $8, ship_region = $9, ship_country = $10,
		email_hash = $11, phone_hash = $12, lookup_version = $13, updated_at = $14, country = $15 WHERE id = $16 AND erased_at IS NULL`
	sqlToRehash = `SELECT ` + orderColumns + ` FROM orders WHERE id > $1 AND lookup_version != $2 AND erased_at IS NULL
		ORDER BY id LIMIT $3`
	sqlRehash = `UPDATE orders SET email_hash = $1, phone_hash = $2, reference_hash = $3, lookup_version = $4
		WHERE id = $5 AND erased_at IS NULL`
	sqlLookupVersions = `SELECT DISTINCT lookup_version FROM orders WHERE erased_at IS NULL`
	sqlSealOrder      = `UPDATE orders SET reference = $1, customer_name = $2, customer_email = $3, customer_phone = $4, ship_organization = $5,
		ship_line1 = $6, ship_line2 = $7, ship_city = $8, ship_postal_code = $9, ship_region = $10, ship_country = $11, notes = $12,
		close_reason = $13, email_hash = $14, phone_hash = $15, reference_hash = $16, sealed = 1, bound = 1, lookup_version = $17 WHERE id = $18`
	sqlBound = `UPDATE orders SET bound = 1 WHERE id = $1`
	// The orders whose personal data is still held, by closing time: a range
	// of orders_closed, paged by (closed_at, id) after the cursor's order.
	sqlClosedBetween = `SELECT ` + retentionColumns + ` FROM orders
		WHERE erased_at IS NULL AND closed_at IS NOT NULL AND closed_at >= $1 AND closed_at < $2
		AND (closed_at, id) > (COALESCE((SELECT closed_at FROM orders WHERE id = $3), ''), $3)
		ORDER BY closed_at, id LIMIT $4`
	sqlCountClosed = `SELECT COUNT(*) FROM orders WHERE erased_at IS NULL AND closed_at IS NOT NULL
		AND closed_at >= $1 AND closed_at < $2`
	sqlFirstClosed = `SELECT MIN(closed_at) FROM orders WHERE erased_at IS NULL AND closed_at IS NOT NULL`
	sqlOpenSince   = `SELECT ` + retentionColumns + ` FROM orders
		WHERE closed_at IS NULL AND erased_at IS NULL AND created_at < $1 ORDER BY id`
	sqlCatalog        = `SELECT sku, name FROM catalog WHERE orderable = 1 ORDER BY sku`
	sqlIdempotencyGet = `SELECT request_hash, order_id, status_code FROM idempotency_keys WHERE reseller_id = $1 AND key = $2 AND expires_at > $3`
	sqlIdempotencyPut = `INSERT INTO idempotency_keys (reseller_id, key, request_hash, order_id, status_code, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (reseller_id, key) DO UPDATE SET request_hash = excluded.request_hash, order_id = excluded.order_id,
			status_code = excluded.status_code, created_at = excluded.created_at, expires_at = excluded.expires_at`
	sqlIdempotencyPurge = `DELETE FROM idempotency_keys WHERE expires_at <= $1`
)

// orderRows reads and writes the orders package's tables. Reads take r, a
// transaction or the read pool; writes take the transaction.
type orderRows struct{ db *store.DB }

func (s *Service) rows() orderRows { return orderRows{s.DB} }

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

// personalColumns are an order's personal columns as stored: each sealed
// with the order's data key, or plain text where it has none.
type personalColumns struct {
	Reference, Name, Email, Phone, Organization, Line1, Line2, City, PostalCode, Region, Country, Notes any
}

// insertOrderParams is a new order's row.
type insertOrderParams struct {
	ID, ResellerID       string
	Status               Status
	Personal             personalColumns
	CreatedAt, UpdatedAt time.Time
	ClosedAt             store.Time
	EmailHash, PhoneHash []byte
	Sealed               bool
	ReferenceHash        any
	LookupVersion        uint32
	// Country is the delivery country's ISO code, kept in the clear.
	Country string
}

// insert stores a new order and reports whether it did: an order the
// unique (reseller, reference) index refuses is left out, without an error
// that would end a PostgreSQL transaction (and without the savepoint it
// would take to go on).
func (q orderRows) insert(ctx context.Context, tx *store.Tx, p insertOrderParams) (bool, error) {
	c := p.Personal
	res, err := tx.ExecContext(ctx, sqlInsertOrder, p.ID, p.ResellerID, c.Reference, p.Status, c.Name, c.Email, c.Phone,
		c.Organization, c.Line1, c.Line2, c.City, c.PostalCode, c.Region, c.Country, c.Notes,
		store.FormatTime(p.CreatedAt), store.FormatTime(p.UpdatedAt), p.ClosedAt, store.Time{}, nil,
		nilIfEmpty(p.EmailHash), nilIfEmpty(p.PhoneHash), p.Sealed, p.ReferenceHash, p.LookupVersion, countryOrNil(p.Country))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// insertItems stores the order's items, numbered from 1, many rows per
// statement.
func (q orderRows) insertItems(ctx context.Context, tx *store.Tx, orderID string, items []Item) error {
	args := make([]any, 0, 4*len(items))
	for i, it := range items {
		args = append(args, orderID, i+1, it.SKU, it.Quantity)
	}
	return store.InsertRows(ctx, tx, sqlInsertItem, 4, args)
}

// get reads one order, ok false when there is none. In a transaction the
// row is read to be changed: on PostgreSQL, where other processes write
// too, it stays locked until the transaction ends.
func (q orderRows) get(ctx context.Context, r sqlx.QueryerContext, id string) (row orderRow, ok bool, err error) {
	query := sqlSelectOrder
	if _, inTx := r.(*store.Tx); inTx {
		query = statements.For(q.db.Engine).orderForUpdate
	}
	err = sqlx.GetContext(ctx, r, &row, query, id)
	if store.IsNoRows(err) {
		return orderRow{}, false, nil
	}
	return row, err == nil, err
}

// byReference returns the reseller's order with the reference, by its
// keyed hash or (an order from before the hashes) its plain value.
func (q orderRows) byReference(ctx context.Context, r sqlx.QueryerContext, resellerID string, hash any, reference string) (string, error) {
	var id string
	err := sqlx.GetContext(ctx, r, &id, sqlOrderByRef, resellerID, hash, reference)
	return id, err
}

// countByReference counts the reseller's orders with the reference.
func (q orderRows) countByReference(ctx context.Context, resellerID string, hash any, reference string) (int, error) {
	var n int
	err := q.db.Reader.GetContext(ctx, &n, sqlCountByRef, resellerID, hash, reference)
	return n, err
}

// byOlderReferences returns the reseller's orders with one of the
// reference hashes (made under retired lookup keys).
func (q orderRows) byOlderReferences(ctx context.Context, tx *store.Tx, resellerID string, hashes [][]byte) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, statements.For(q.db.Engine).byOlderRefs, resellerID, tx.List(hashes))
	return ids, err
}

// list returns a page of one reseller's orders, newest first.
func (q orderRows) list(ctx context.Context, r sqlx.QueryerContext, f ListFilter) ([]orderRow, error) {
	query, args := sqlListOrders, []any{f.ResellerID, f.Status, f.Limit}
	if f.After != "" {
		query, args = sqlListOrdersAfter, []any{f.ResellerID, f.Status, f.After, f.Limit}
	}
	var rows []orderRow
	err := sqlx.SelectContext(ctx, r, &rows, query, args...)
	return rows, err
}

// received returns up to limit ids of orders still "received", after the
// id after.
func (q orderRows) received(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := q.db.Reader.SelectContext(ctx, &ids, sqlReceived, after, limit)
	return ids, err
}

// setStatusParams moves an order to a status; ClosedAt is set when the
// status is final.
type setStatusParams struct {
	ID        string
	Status    Status
	UpdatedAt time.Time
	ClosedAt  store.Time
}

func (q orderRows) setStatus(ctx context.Context, tx *store.Tx, p setStatusParams) error {
	_, err := tx.ExecContext(ctx, sqlUpdateStatus, p.Status, store.FormatTime(p.UpdatedAt), p.ClosedAt, p.ID)
	return err
}

// closeParams closes an order by an operator's decision.
type closeParams struct {
	ID                  string
	Status              Status
	UpdatedAt, ClosedAt time.Time
	Reason              any // sealed
}

func (q orderRows) close(ctx context.Context, tx *store.Tx, p closeParams) error {
	_, err := tx.ExecContext(ctx, sqlCloseOrder, p.Status, store.FormatTime(p.UpdatedAt), store.FormatTime(p.ClosedAt), p.Reason, p.ID)
	return err
}

// statesForUpdate reads the orders without their personal columns,
// locked for the transaction.
func (q orderRows) statesForUpdate(ctx context.Context, tx *store.Tx, ids []string) ([]orderRow, error) {
	var rows []orderRow
	err := tx.SelectContext(ctx, &rows, statements.For(q.db.Engine).stateForUpdate, tx.List(ids))
	return rows, err
}

// moveNotFinal moves the orders to a status that is not final, which
// leaves the retention columns as they are.
func (q orderRows) moveNotFinal(ctx context.Context, tx *store.Tx, st Status, at time.Time, ids []string) error {
	_, err := tx.ExecContext(ctx, statements.For(q.db.Engine).moveNotFinal, st, store.FormatTime(at), tx.List(ids))
	return err
}

// rectifyParams is a live order's corrected contact and address, and the
// hashes they are found by.
type rectifyParams struct {
	ID                   string
	Personal             personalColumns // all but Reference and Notes
	EmailHash, PhoneHash []byte
	LookupVersion        uint32
	UpdatedAt            time.Time
	Country              string
}

func (q orderRows) rectify(ctx context.Context, tx *store.Tx, p rectifyParams) error {
	c := p.Personal
	_, err := tx.ExecContext(ctx, sqlRectify, c.Name, c.Email, c.Phone, c.Organization, c.Line1, c.Line2, c.City,
		c.PostalCode, c.Region, c.Country, nilIfEmpty(p.EmailHash), nilIfEmpty(p.PhoneHash), p.LookupVersion,
		store.FormatTime(p.UpdatedAt), countryOrNil(p.Country), p.ID)
	return err
}

// toRehash returns up to limit live orders after the id after whose hashes
// were made under another lookup key than version.
func (q orderRows) toRehash(ctx context.Context, tx *store.Tx, after string, version uint32, limit int) ([]orderRow, error) {
	var rows []orderRow
	err := tx.SelectContext(ctx, &rows, sqlToRehash, after, version, limit)
	return rows, err
}

// rehashParams are a live order's hashes made again under one lookup key.
type rehashParams struct {
	ID                   string
	EmailHash, PhoneHash []byte
	ReferenceHash        any
	LookupVersion        uint32
}

func (q orderRows) rehash(ctx context.Context, tx *store.Tx, p rehashParams) error {
	_, err := tx.ExecContext(ctx, sqlRehash, nilIfEmpty(p.EmailHash), nilIfEmpty(p.PhoneHash), p.ReferenceHash, p.LookupVersion, p.ID)
	return err
}

// lookupVersions returns the lookup key versions of live orders' hashes.
func (q orderRows) lookupVersions(ctx context.Context) ([]uint32, error) {
	var vs []uint32
	err := q.db.Reader.SelectContext(ctx, &vs, sqlLookupVersions)
	return vs, err
}

// unsealed returns up to 500 live orders still in plain text.
func (q orderRows) unsealed(ctx context.Context) ([]orderRow, error) {
	var rows []orderRow
	err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).unsealed)
	return rows, err
}

// sealOrderParams are an order's columns once sealed.
type sealOrderParams struct {
	ID                   string
	Personal             personalColumns
	CloseReason          any
	EmailHash, PhoneHash []byte
	ReferenceHash        any
	LookupVersion        uint32
}

func (q orderRows) seal(ctx context.Context, tx *store.Tx, p sealOrderParams) error {
	c := p.Personal
	_, err := tx.ExecContext(ctx, sqlSealOrder, c.Reference, c.Name, c.Email, c.Phone, c.Organization, c.Line1, c.Line2,
		c.City, c.PostalCode, c.Region, c.Country, c.Notes, p.CloseReason, nilIfEmpty(p.EmailHash), nilIfEmpty(p.PhoneHash),
		p.ReferenceHash, p.LookupVersion, p.ID)
	return err
}

// unbound returns up to 500 ids of orders sealed before values were bound
// to their owner.
func (q orderRows) unbound(ctx context.Context) ([]string, error) {
	var ids []string
	err := q.db.Reader.SelectContext(ctx, &ids, statements.For(q.db.Engine).unbound)
	return ids, err
}

func (q orderRows) markBound(ctx context.Context, tx *store.Tx, id string) error {
	_, err := tx.ExecContext(ctx, sqlBound, id)
	return err
}

// erase empties the personal columns of those of the orders not yet
// erased, and returns their ids.
func (q orderRows) erase(ctx context.Context, tx *store.Tx, at time.Time, ids []string) ([]string, error) {
	var erased []string
	err := tx.SelectContext(ctx, &erased, statements.For(q.db.Engine).eraseOrders, store.FormatTime(at), tx.List(ids))
	return erased, err
}

// eraseRelated empties what the orders' other rows hold of personal data:
// recipients' free text and tracking, the timeline's details, idempotency
// records.
func (q orderRows) eraseRelated(ctx context.Context, tx *store.Tx, ids []string) error {
	s := statements.For(q.db.Engine)
	for _, stmt := range []string{s.eraseAnswers, s.eraseEvents, s.eraseIdempotent} {
		if _, err := tx.ExecContext(ctx, stmt, tx.List(ids)); err != nil {
			return err
		}
	}
	return nil
}

type retentionScan struct {
	RetentionRow
	Created store.Time `db:"created_at"`
	Closed  store.Time `db:"closed_at"`
}

// closedBetweenParams pages the orders whose personal data is held and
// that closed in [From, To), after the order After, Limit at a time.
type closedBetweenParams struct {
	From, To time.Time
	After    string
	Limit    int
}

func (q orderRows) closedBetween(ctx context.Context, p closedBetweenParams) ([]retentionScan, error) {
	lo := ""
	if !p.From.IsZero() {
		lo = store.FormatTime(p.From)
	}
	var rows []retentionScan
	err := q.db.Reader.SelectContext(ctx, &rows, sqlClosedBetween, lo, store.FormatTime(p.To), p.After, p.Limit)
	return rows, err
}

func (q orderRows) countClosed(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := q.db.Reader.GetContext(ctx, &n, sqlCountClosed, store.FormatTime(from), store.FormatTime(to))
	return n, err
}

func (q orderRows) firstClosed(ctx context.Context) (store.Time, error) {
	var t store.Time
	err := q.db.Reader.GetContext(ctx, &t, sqlFirstClosed)
	return t, err
}

// openSince returns the orders never closed nor erased created before t.
func (q orderRows) openSince(ctx context.Context, t time.Time) ([]retentionScan, error) {
	var rows []retentionScan
	err := q.db.Reader.SelectContext(ctx, &rows, sqlOpenSince, store.FormatTime(t))
	return rows, err
}

// retentionByID returns those of the orders whose personal data is held.
func (q orderRows) retentionByID(ctx context.Context, r sqlx.QueryerContext, ids []string) ([]retentionScan, error) {
	var rows []retentionScan
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).retentionByID, q.db.List(ids))
	return rows, err
}

// subjectByHashes returns the orders with one of the email hashes or one of
// the phone hashes.
func (q orderRows) subjectByHashes(ctx context.Context, r sqlx.QueryerContext, emails, phones [][]byte) ([]subjectScan, error) {
	var rows []subjectScan
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).subjectOrders, q.db.List(emails), q.db.List(phones))
	return rows, err
}

// subjectByID returns the orders, erased ones included.
func (q orderRows) subjectByID(ctx context.Context, r sqlx.QueryerContext, ids []string) ([]subjectScan, error) {
	var rows []subjectScan
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).subjectByID, q.db.List(ids))
	return rows, err
}

type itemRow struct {
	OrderID  string `db:"order_id"`
	SKU      string `db:"sku"`
	Quantity int    `db:"quantity"`
}

// items returns the orders' items, by order and line.
func (q orderRows) items(ctx context.Context, r sqlx.QueryerContext, ids []string) ([]itemRow, error) {
	var rows []itemRow
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).items, q.db.List(ids))
	return rows, err
}

// catalog returns the orderable SKUs.
func (q orderRows) catalog(ctx context.Context) ([]CatalogItem, error) {
	var out []CatalogItem
	err := q.db.Reader.SelectContext(ctx, &out, sqlCatalog)
	return out, err
}

type idempotencyRow struct {
	Hash    []byte `db:"request_hash"`
	OrderID string `db:"order_id"`
	Status  int    `db:"status_code"`
}

// idempotencyKey returns the reseller's key's record while it lasts, ok
// false when there is none.
func (q orderRows) idempotencyKey(ctx context.Context, tx *store.Tx, resellerID, key string, now time.Time) (row idempotencyRow, ok bool, err error) {
	err = tx.GetContext(ctx, &row, sqlIdempotencyGet, resellerID, key, store.FormatTime(now))
	if store.IsNoRows(err) {
		return idempotencyRow{}, false, nil
	}
	return row, err == nil, err
}

// putIdempotencyParams records what a reseller's key created, until
// Expires.
type putIdempotencyParams struct {
	ResellerID, Key  string
	RequestHash      []byte
	OrderID          string
	Status           int
	Created, Expires time.Time
}

func (q orderRows) putIdempotencyKey(ctx context.Context, tx *store.Tx, p putIdempotencyParams) error {
	return tx.Later(ctx, sqlIdempotencyPut, p.ResellerID, p.Key, p.RequestHash, p.OrderID, p.Status,
		store.FormatTime(p.Created), store.FormatTime(p.Expires))
}

// purgeIdempotencyKeys deletes the keys expired at now and returns how
// many went.
func (q orderRows) purgeIdempotencyKeys(ctx context.Context, tx *store.Tx, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, sqlIdempotencyPurge, store.FormatTime(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// countryOrNil stores an unknown country as NULL.
func countryOrNil(c string) any {
	if c == "" {
		return nil
	}
	return c
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// sqlHoldings reads, for a breach's impact, every order taken up to $2:
// its id, the keyed email hash (else the phone's), its country, and
// whether its personal data was erased here before the window's start $1
// (2), since (1) or not (0). sqlAcks reads the few orders the recipient $2
// acknowledged erasing, the same way. (SQLite numbers parameters in the
// order they first appear.)
const (
	sqlHoldings = `SELECT id, COALESCE(email_hash, phone_hash) AS person, COALESCE(country, '') AS country,
		CASE WHEN erased_at IS NULL THEN 0 WHEN erased_at < $1 THEN 2 ELSE 1 END AS erased
		FROM orders WHERE created_at <= $2`
	sqlAcks = `SELECT order_id, CASE WHEN erasure_confirmed_at < $1 THEN 2 ELSE 1 END AS acked FROM order_recipients
		WHERE partner_id = $2 AND erasure_confirmed_at IS NOT NULL`
)

// acks reads when the recipient partnerID acknowledged erasing orders,
// relative to from.
func (q orderRows) acks(ctx context.Context, partnerID string, from time.Time) (map[string]Moment, error) {
	var rows []struct {
		OrderID string `db:"order_id"`
		Acked   Moment `db:"acked"`
	}
	if err := q.db.Reader.SelectContext(ctx, &rows, sqlAcks, store.FormatTime(from), partnerID); err != nil {
		return nil, err
	}
	out := make(map[string]Moment, len(rows))
	for _, r := range rows {
		out[r.OrderID] = r.Acked
	}
	return out, nil
}

// holdings calls fn with each order taken up to to, read as sqlHoldings
// says, in no particular order. The person hash is read without a copy
// and kept only as its fingerprint.
func (q orderRows) holdings(ctx context.Context, from, to time.Time, fn func(Holding) error) error {
	rows, err := q.db.Reader.QueryContext(ctx, sqlHoldings, store.FormatTime(from), store.FormatTime(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		person, country sql.RawBytes
		erased          int
		countries       = map[string]string{}
	)
	for rows.Next() {
		var h Holding
		if err := rows.Scan(&h.OrderID, &person, &country, &erased); err != nil {
			return err
		}
		h.Person = fingerprint(person)
		c, ok := countries[string(country)]
		if !ok {
			c = string(country)
			countries[c] = c
		}
		h.Country, h.Erased = c, Moment(erased)
		if err := fn(h); err != nil {
			return err
		}
	}
	return rows.Err()
}
