package orders

import "github.com/milestone/husky/store"

// queries are the orders package's statements that differ between the
// engines, written out for both below: lists ($n is a list: JSON read with
// json_each on SQLite, an array on PostgreSQL; lists of hashes are hex on
// SQLite), row locks (PostgreSQL's other processes write too; SQLite's
// single writer needs none), index hints (SQLite plans without statistics;
// PostgreSQL's planner chooses) and text stored as bytes.
type queries struct {
	orderForUpdate  string // the order $1, locked for the transaction
	stateForUpdate  string // the orders $1 without personal columns, locked
	items           string // the items of the orders $1
	answers         string // the recipients' answers of the orders $1
	moveNotFinal    string // $1 status, $2 updated_at, for the orders $3
	byOlderRefs     string // the reseller $1's orders with one of the reference hashes $2
	eraseOrders     string // $1 erased_at, for the orders $2 not yet erased; RETURNING id
	eraseAnswers    string // the orders $1
	eraseEvents     string // the orders $1
	eraseIdempotent string // the orders $1
	retentionByID   string // the orders $1 whose personal data is held
	erasureConfirms string // per recipient, how many of the orders $1 it confirmed erased
	erasureAcks     string // the erasures of the orders $1 each recipient confirmed
	subjectOrders   string // the orders with one of the email hashes $1 or phone hashes $2
	subjectByID     string // the orders $1, as a subject request sees them
	unsealed        string // 500 orders still in plain text
	unbound         string // 500 orders sealed before values were bound to their owner
}

const (
	// The reference and its hash become the order id: unique per reseller,
	// and the original may name a person.
	eraseOrdersSet = `UPDATE orders SET customer_name = '', customer_email = '', customer_phone = '',
		ship_organization = '', ship_line1 = '', ship_line2 = '', ship_city = '', ship_postal_code = '', ship_region = '',
		ship_country = '', notes = '', email_hash = NULL, phone_hash = NULL, country = NULL, erased_at = $1, `
	stateColumns = `id, reseller_id, reference, status, created_at, updated_at, closed_at, erased_at, close_reason, sealed`
	answersFrom  = `SELECT order_id, partner_id, status, estimated_ship_date, reason_code, message, carrier,
		tracking_number, tracking_url, delivered_at, erasure_confirmed_at, updated_at FROM order_recipients`
)

var statements = store.PerEngine[queries]{
	SQLite: queries{
		orderForUpdate: `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`,
		stateForUpdate: `SELECT ` + stateColumns + ` FROM orders WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id`,
		items:          `SELECT order_id, sku, quantity FROM order_items WHERE order_id IN (SELECT value FROM json_each($1)) ORDER BY order_id, line`,
		answers:        answersFrom + ` WHERE order_id IN (SELECT value FROM json_each($1)) ORDER BY order_id, partner_id`,
		moveNotFinal:   `UPDATE orders SET status = $1, updated_at = $2 WHERE id IN (SELECT value FROM json_each($3))`,
		byOlderRefs:    `SELECT id FROM orders WHERE reseller_id = $1 AND reference_hash IN (SELECT unhex(value) FROM json_each($2))`,
		eraseOrders: eraseOrdersSet + `reference = 'erased:' || id, reference_hash = 'erased:' || id,
			close_reason = CASE WHEN close_reason IS NULL THEN NULL ELSE '' END
			WHERE id IN (SELECT value FROM json_each($2)) AND erased_at IS NULL RETURNING id`,
		eraseAnswers: `UPDATE order_recipients SET message = NULL, carrier = NULL, tracking_number = NULL, tracking_url = NULL
			WHERE order_id IN (SELECT value FROM json_each($1))`,
		eraseEvents:     `UPDATE order_events SET details = '{}' WHERE order_id IN (SELECT value FROM json_each($1)) AND details != '{}'`,
		eraseIdempotent: `DELETE FROM idempotency_keys WHERE order_id IN (SELECT value FROM json_each($1))`,
		retentionByID:   `SELECT ` + retentionColumns + ` FROM orders WHERE erased_at IS NULL AND id IN (SELECT value FROM json_each($1)) ORDER BY id`,
		erasureConfirms: `SELECT partner_id, COUNT(*) AS n FROM order_recipients
			WHERE erasure_confirmed_at IS NOT NULL AND order_id IN (SELECT value FROM json_each($1)) GROUP BY partner_id`,
		erasureAcks: `SELECT order_id, partner_id, erasure_confirmed_at FROM order_recipients
			WHERE erasure_confirmed_at IS NOT NULL AND order_id IN (SELECT value FROM json_each($1))`,
		// Two index lookups, never a scan: the union of the orders with
		// one of the email's hashes and those with one of the phone's.
		subjectOrders: `SELECT ` + subjectColumns + ` FROM orders WHERE id IN (
			SELECT id FROM orders INDEXED BY orders_email_hash WHERE email_hash IN (SELECT unhex(value) FROM json_each($1))
			UNION SELECT id FROM orders INDEXED BY orders_phone_hash WHERE phone_hash IN (SELECT unhex(value) FROM json_each($2)))
			ORDER BY id`,
		subjectByID: `SELECT ` + subjectColumns + ` FROM orders WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id`,
		unsealed: `SELECT ` + orderColumns + ` FROM orders INDEXED BY orders_unsealed WHERE sealed = 0 AND erased_at IS NULL
			ORDER BY id LIMIT 500`,
		unbound: `SELECT id FROM orders INDEXED BY orders_unbound WHERE bound = 0 AND sealed = 1 AND erased_at IS NULL
			ORDER BY id LIMIT 500`,
	},
	PostgreSQL: queries{
		orderForUpdate: `SELECT ` + orderColumns + ` FROM orders WHERE id = $1 FOR UPDATE`,
		stateForUpdate: `SELECT ` + stateColumns + ` FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
		items:          `SELECT order_id, sku, quantity FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line`,
		answers:        answersFrom + ` WHERE order_id = ANY($1) ORDER BY order_id, partner_id`,
		moveNotFinal:   `UPDATE orders SET status = $1, updated_at = $2 WHERE id = ANY($3)`,
		byOlderRefs:    `SELECT id FROM orders WHERE reseller_id = $1 AND reference_hash = ANY($2)`,
		eraseOrders: eraseOrdersSet + `reference = convert_to('erased:' || id, 'UTF8'),
			reference_hash = convert_to('erased:' || id, 'UTF8'),
			close_reason = CASE WHEN close_reason IS NULL THEN NULL ELSE convert_to('', 'UTF8') END
			WHERE id = ANY($2) AND erased_at IS NULL RETURNING id`,
		eraseAnswers: `UPDATE order_recipients SET message = NULL, carrier = NULL, tracking_number = NULL, tracking_url = NULL
			WHERE order_id = ANY($1)`,
		eraseEvents:     `UPDATE order_events SET details = '{}' WHERE order_id = ANY($1) AND details != '{}'`,
		eraseIdempotent: `DELETE FROM idempotency_keys WHERE order_id = ANY($1)`,
		retentionByID:   `SELECT ` + retentionColumns + ` FROM orders WHERE erased_at IS NULL AND id = ANY($1) ORDER BY id`,
		erasureConfirms: `SELECT partner_id, COUNT(*) AS n FROM order_recipients
			WHERE erasure_confirmed_at IS NOT NULL AND order_id = ANY($1) GROUP BY partner_id`,
		erasureAcks: `SELECT order_id, partner_id, erasure_confirmed_at FROM order_recipients
			WHERE erasure_confirmed_at IS NOT NULL AND order_id = ANY($1)`,
		subjectOrders: `SELECT ` + subjectColumns + ` FROM orders WHERE id IN (
			SELECT id FROM orders WHERE email_hash = ANY($1) UNION SELECT id FROM orders WHERE phone_hash = ANY($2))
			ORDER BY id`,
		subjectByID: `SELECT ` + subjectColumns + ` FROM orders WHERE id = ANY($1) ORDER BY id`,
		unsealed: `SELECT ` + orderColumns + ` FROM orders WHERE sealed = 0 AND erased_at IS NULL
			ORDER BY id LIMIT 500`,
		unbound: `SELECT id FROM orders WHERE bound = 0 AND sealed = 1 AND erased_at IS NULL
			ORDER BY id LIMIT 500`,
	},
}
