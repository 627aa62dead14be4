// Package orderstest writes orders straight into the database, as the
// service would have left them, for the benchmarks and tests that need far
// more of them than they could make through the API in their time. Their
// personal columns are plain text (the service seals them; these stand
// for an older database's or a benchmark's).
package orderstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
)

// closed: $1 orders of the reseller $2, delivered and closed in 2017, 2018
// or 2019 (by id), each with a reference of its own.
var closed = store.PerEngine[string]{
	SQLite: `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO orders (id, reseller_id, reference, status, customer_name, customer_email, customer_phone, ship_organization,
			ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country, notes, created_at, updated_at, closed_at,
			reference_hash)
		SELECT printf('ord_%032x', x), $2, 'C-' || x, 'delivered', 'Customer', 'c' || x || '@example.com', '+4520100000', '',
			'Vej 1', '', 'Brøndby', '2605', '', 'DK', '', '2017-01-01T00:00:00.000000Z', '2019-03-01T00:00:00.000000Z',
			(2017 + x % 3) || '-03-01T00:00:00.000000Z', 'C-' || x
		FROM n`,
	PostgreSQL: `INSERT INTO orders (id, reseller_id, reference, status, customer_name, customer_email, customer_phone, ship_organization,
			ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country, notes, created_at, updated_at, closed_at,
			reference_hash)
		SELECT 'ord_' || lpad(to_hex(x), 32, '0'), $2, convert_to('C-' || x, 'UTF8'), 'delivered', convert_to('Customer', 'UTF8'),
			convert_to('c' || x || '@example.com', 'UTF8'), convert_to('+4520100000', 'UTF8'), convert_to('', 'UTF8'),
			convert_to('Vej 1', 'UTF8'), convert_to('', 'UTF8'), convert_to('Brøndby', 'UTF8'), convert_to('2605', 'UTF8'),
			convert_to('', 'UTF8'), convert_to('DK', 'UTF8'), convert_to('', 'UTF8'),
			'2017-01-01T00:00:00.000000Z', '2019-03-01T00:00:00.000000Z', (2017 + x % 3) || '-03-01T00:00:00.000000Z',
			convert_to('C-' || x, 'UTF8')
		FROM generate_series(1, $1::bigint) AS x`,
}

// WriteClosed writes n delivered orders of reseller, closed in 2017 to
// 2019: past retention.
func WriteClosed(ctx context.Context, db *store.DB, n int, reseller string) error {
	if _, err := db.Writer.ExecContext(ctx, *closed.For(db.Engine), n, reseller); err != nil {
		return fmt.Errorf("write orders: %w", err)
	}
	return nil
}

// ClosedID is the id WriteClosed gives its i-th order (from 1).
func ClosedID(i int) string { return fmt.Sprintf("ord_%032x", i) }

// Closed gives a store test n orders to refer to: it adds the reseller
// ptn_r and writes n closed orders of it, and returns their ids in order.
func Closed(t testing.TB, db *store.DB, n int) []string {
	t.Helper()
	ctx := context.Background()
	if _, _, err := (&partners.Store{DB: db, Clock: time.Now}).Add(ctx, "test",
		partners.NewPartner{ID: "ptn_r", Kind: partners.KindReseller, Name: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteClosed(ctx, db, n, "ptn_r"); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = ClosedID(i + 1)
	}
	return ids
}

// Person is one order's customer, as WriteOrders writes it.
type Person struct {
	ID, Reference, Name, Email, Phone string
	// The keyed hashes the service would have made of the email, the
	// phone and the reference.
	EmailHash, PhoneHash, ReferenceHash []byte
}

const sqlInsertShared = `INSERT INTO orders (id, reseller_id, reference, status, customer_name, customer_email, customer_phone,
	ship_organization, ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country, notes,
	created_at, updated_at, email_hash, phone_hash, reference_hash, country)
	VALUES ($1, $2, $3, 'shared', $4, $5, $6, '', 'Industrivej 1', '', 'Brøndby', '2605', '', 'DK', '', $7, $7, $8, $9, $10, 'DK')`

// WriteShared writes an order of reseller for each person, shared and
// created at at, 50,000 to a transaction.
func WriteShared(ctx context.Context, db *store.DB, reseller, at string, people func(i int) Person, n int) error {
	for start := 0; start < n; start += 50000 {
		err := db.Tx(ctx, func(tx *store.Tx) error {
			stmt, err := tx.PreparexContext(ctx, sqlInsertShared)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i := start; i < min(start+50000, n); i++ {
				p := people(i)
				if _, err := stmt.ExecContext(ctx, p.ID, reseller, p.Reference, p.Name, p.Email, p.Phone, at,
					p.EmailHash, p.PhoneHash, p.ReferenceHash); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write orders: %w", err)
		}
	}
	return nil
}
