package sharing

import "github.com/milestone/husky/store"

// queries are sharing's statements that differ between the engines,
// written out for both below: lists ($n is a list: JSON read with json_each
// on SQLite, lists of hashes as hex; an array on PostgreSQL), index hints
// (SQLite plans without statistics and is held to the index the statement
// was measured with; PostgreSQL's planner chooses) and the claim's row
// locks (PostgreSQL's dispatchers claim side by side).
type queries struct {
	// due: up to $6 deliveries to the partner $1 due at $2 that are free
	// to claim (see claimFree) and overtake no earlier message.
	due string
	// lease: $1 owner, $2 lease_until, for the deliveries $3 still due
	// and free at $4 for the owner $5 with heartbeats since $6.
	lease        string
	held         string // $1 owner: which of the deliveries $2 it still leases
	delivered    string // $1 delivered_at, $2 updated_at, $3 last_status; $4 owner, the deliveries $5
	allDelivered string // those of the orders $1 whose every $2 delivery arrived
	backlog      string
	countDead    string // dead since $1, with a payload to replay
	heldCount    string
	// noticesDue groups the erasure notices sent since $3 by order and
	// recipient, up to $5 after the cursor ($1, $2), leaving out any still
	// on its way and those sent more than $4 times.
	noticesDue   string
	notices      string // the $1 deliveries of the orders $2, per order and recipient
	disclosures  string // the personal deliveries of the orders $1 made or maybe made
	disclosedTo  string // who received or may have received $2 of the orders $1
	dropPending  string // $1 dead_at, $2 updated_at, for the orders $3
	erasePayload string // $1 the empty payload, for the orders $2
	eraseBodies  string // the orders $1
	unrestrict   string // the orders $1
	holdPending  string // the orders $1
	releaseHeld  string // the orders $1
	restrictedBy string // the requests restricting the subject hashes $1
	plainPays    string // the orders $1
	plainBodies  string // the orders $1
}

// idsOnly are the events that carry no personal data (idsOnlyEvents): a
// pending one still goes after its order is erased.
const idsOnly = `'` + EventOrderCancelled + `', '` + EventOrderErased + `', '` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `'`

// The notice and disclosure reads differ only in their lists.
const (
	noticesSelect = `SELECT order_id, partner_id, MIN(created_at) AS first_at, COUNT(*) AS sent,
	SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
	SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending FROM deliveries WHERE event_type = $1 AND `
	disclosuresSelect = `SELECT order_id, partner_id, event_type, fields, status, last_status, created_at, delivered_at,
	length(payload) = 0 AND attempts = 0 AS imported FROM deliveries
	WHERE event_type IN ('` + EventOrderCreated + `', '` + EventOrderUpdated + `')
		AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL) AND `
	// The orders among a set whose every order.created has arrived. A
	// scalar subquery per order runs once per order through the order
	// index on both engines, whatever the planner's statistics say: as a
	// GROUP BY over order_id IN (…), or as EXISTS joins, PostgreSQL
	// without statistics chose a scan of every delivery (90-114 ms a call
	// with 80,000). No order.created at all gives NULL, not 0.
	allDeliveredWhere = ` WHERE (SELECT SUM(CASE WHEN d.status = 'delivered' THEN 0 ELSE 1 END) FROM deliveries AS d
		WHERE d.order_id = v.id AND d.event_type = $2) = 0`
	heldCountSelect = `SELECT COUNT(*) FROM deliveries `
)

var statements = store.PerEngine[queries]{
	SQLite: queries{
		// Claiming is two statements: find due ids through the due index
		// (on the read pool), then lease exactly those rows by primary key,
		// if they are still due. (An UPDATE … WHERE id IN (SELECT … LIMIT
		// n) scans the whole table.)
		//
		// Messages about one order reach a recipient in the order they
		// were queued: a delivery waits while an earlier one for the same
		// recipient and order is still pending (ids are time-ordered), so
		// order.cancelled never overtakes order.created. A dead delivery
		// no longer holds the queue.
		//
		// A claim is free when it has no lease, its lease ran out, or its
		// owner (another dispatcher) stopped beating: see heartbeat.go.
		//
		// A held delivery (a restricted order's personal data) is not due.
		// It still holds back later messages about its order to its
		// recipient (an order.cancelled must not overtake the
		// order.created it cancels), except the restriction notices
		// themselves, which go.
		due: `SELECT d.id FROM deliveries AS d INDEXED BY deliveries_due
			WHERE d.partner_id = $1 AND d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= $2
			AND (d.lease_until IS NULL OR d.lease_until < $3 OR (d.lease_owner != $4
				AND NOT EXISTS (SELECT 1 FROM dispatchers AS h WHERE h.id = d.lease_owner AND h.heartbeat_at >= $5)))
			AND NOT EXISTS (SELECT 1 FROM deliveries AS e INDEXED BY deliveries_order WHERE e.order_id = d.order_id
				AND e.partner_id = d.partner_id AND e.status = 'pending' AND e.id < d.id
				AND (e.held = 0 OR d.event_type NOT IN ('` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `')))
			ORDER BY d.next_attempt_at LIMIT $6`,
		lease: `UPDATE deliveries AS d SET lease_owner = $1, lease_until = $2 WHERE d.id IN (SELECT value FROM json_each($3))
			AND d.status || '' = 'pending' AND d.held = 0
			AND (d.lease_until IS NULL OR d.lease_until < $4 OR (d.lease_owner != $5
				AND NOT EXISTS (SELECT 1 FROM dispatchers AS h WHERE h.id = d.lease_owner AND h.heartbeat_at >= $6)))
			AND NOT EXISTS (SELECT 1 FROM deliveries AS e INDEXED BY deliveries_order WHERE e.order_id = d.order_id
				AND e.partner_id = d.partner_id AND e.status = 'pending' AND e.id < d.id
				AND (e.held = 0 OR d.event_type NOT IN ('` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `')))
			RETURNING id, partner_id, COALESCE(order_id, '') AS order_id, event_type, payload, fields, payload_sha256, attempts, step, trace_parent`,
		held: `SELECT id, order_erased FROM deliveries WHERE lease_owner = $1 AND id IN (SELECT value FROM json_each($2))`,
		delivered: `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, step = step + 1, delivered_at = $1,
			updated_at = $2, last_status = $3, last_error = '', lease_owner = NULL, lease_until = NULL
			WHERE lease_owner = $4 AND id IN (SELECT value FROM json_each($5))`,
		allDelivered: `SELECT v.id FROM (SELECT value AS id FROM json_each($1)) AS v` + allDeliveredWhere,
		backlog: `SELECT COUNT(*) AS n, COALESCE(MIN(next_attempt_at), '') AS oldest FROM deliveries INDEXED BY deliveries_due
			WHERE status = 'pending' AND held = 0`,
		countDead: `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_dead
			WHERE status = 'dead' AND dead_at >= $1 AND length(payload) > 0`,
		heldCount: heldCountSelect + `INDEXED BY deliveries_held WHERE held = 1`,
		noticesDue: `SELECT order_id, partner_id, MIN(created_at) AS first_at, COUNT(*) AS sent
			FROM deliveries INDEXED BY deliveries_erasure_notices
			WHERE event_type = '` + EventOrderErased + `' AND order_id IS NOT NULL AND (order_id, partner_id) > ($1, $2)
			GROUP BY order_id, partner_id
			HAVING MIN(created_at) >= $3 AND COUNT(*) <= $4 AND SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) = 0
			ORDER BY order_id, partner_id LIMIT $5`,
		notices: noticesSelect + `order_id IN (SELECT value FROM json_each($2))
			GROUP BY order_id, partner_id ORDER BY order_id, partner_id`,
		disclosures: disclosuresSelect + `order_id IN (SELECT value FROM json_each($1)) ORDER BY order_id, created_at`,
		disclosedTo: `SELECT DISTINCT order_id, partner_id FROM deliveries WHERE order_id IN (SELECT value FROM json_each($1))
			AND event_type = $2 AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL) ORDER BY order_id, partner_id`,
		// status || '' keeps SQLite's planner on the order index: the
		// status index would scan every pending delivery.
		dropPending: `UPDATE deliveries SET status = 'dead', dead_at = $1, updated_at = $2, last_error = 'order erased before delivery',
			lease_owner = NULL, lease_until = NULL WHERE order_id IN (SELECT value FROM json_each($3))
			AND status || '' = 'pending' AND event_type NOT IN (` + idsOnly + `)`,
		erasePayload: `UPDATE deliveries SET order_erased = 1,
			payload = CASE WHEN status = 'pending' AND event_type IN (` + idsOnly + `) THEN payload ELSE $1 END
			WHERE order_id IN (SELECT value FROM json_each($2))`,
		eraseBodies: `UPDATE delivery_attempts SET response_body = NULL WHERE response_body IS NOT NULL
			AND delivery_id IN (SELECT id FROM deliveries WHERE order_id IN (SELECT value FROM json_each($1)))`,
		unrestrict: `DELETE FROM restricted_orders WHERE order_id IN (SELECT value FROM json_each($1))`,
		holdPending: `UPDATE deliveries SET held = 1 WHERE order_id IN (SELECT value FROM json_each($1))
			AND status = 'pending' AND fields != '' AND held = 0`,
		// Released are the orders no other restriction still holds.
		releaseHeld: `UPDATE deliveries SET held = 0 WHERE held = 1 AND order_id IN (SELECT value FROM json_each($1))
			AND NOT EXISTS (SELECT 1 FROM restricted_orders r WHERE r.order_id = deliveries.order_id)`,
		restrictedBy: `SELECT DISTINCT request_id FROM restricted_subjects WHERE hash IN (SELECT unhex(value) FROM json_each($1))
			ORDER BY request_id`,
		plainPays: `SELECT id, order_id, payload FROM deliveries WHERE order_id IN (SELECT value FROM json_each($1))
			AND length(payload) > 0 AND (fields != '' OR event_type = '` + EventOrderStatusChanged + `') AND substr(payload, 1, 1) != x'00'`,
		plainBodies: `SELECT a.delivery_id, a.attempt, d.order_id, a.response_body FROM delivery_attempts a
			JOIN deliveries d ON d.id = a.delivery_id WHERE d.order_id IN (SELECT value FROM json_each($1))
			AND a.response_body IS NOT NULL AND substr(a.response_body, 1, 1) != x'00'`,
	},
	PostgreSQL: queries{
		due: `SELECT d.id FROM deliveries AS d
			WHERE d.partner_id = $1 AND d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= $2
			AND (d.lease_until IS NULL OR d.lease_until < $3 OR (d.lease_owner != $4
				AND NOT EXISTS (SELECT 1 FROM dispatchers AS h WHERE h.id = d.lease_owner AND h.heartbeat_at >= $5)))
			AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.order_id = d.order_id
				AND e.partner_id = d.partner_id AND e.status = 'pending' AND e.id < d.id
				AND (e.held = 0 OR d.event_type NOT IN ('` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `')))
			ORDER BY d.next_attempt_at LIMIT $6`,
		// Several dispatchers claim at once: the rows are locked first,
		// skipping those another is leasing right now, rather than
		// waiting for it. status || '' keeps PostgreSQL on the primary
		// key: without statistics (a table grown since the last ANALYZE,
		// or autovacuum off) it took the due index for a one-row index and
		// scanned every pending delivery for each candidate, 13 s a claim
		// with 58,000 pending.
		lease: `UPDATE deliveries AS d SET lease_owner = $1, lease_until = $2
			WHERE d.id IN (SELECT id FROM deliveries WHERE id = ANY($3) FOR UPDATE SKIP LOCKED)
			AND d.status || '' = 'pending' AND d.held = 0
			AND (d.lease_until IS NULL OR d.lease_until < $4 OR (d.lease_owner != $5
				AND NOT EXISTS (SELECT 1 FROM dispatchers AS h WHERE h.id = d.lease_owner AND h.heartbeat_at >= $6)))
			AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.order_id = d.order_id
				AND e.partner_id = d.partner_id AND e.status = 'pending' AND e.id < d.id
				AND (e.held = 0 OR d.event_type NOT IN ('` + EventOrderRestricted + `', '` + EventOrderRestrictionLifted + `')))
			RETURNING id, partner_id, COALESCE(order_id, '') AS order_id, event_type, payload, fields, payload_sha256, attempts, step, trace_parent`,
		held: `SELECT id, order_erased FROM deliveries WHERE lease_owner = $1 AND id = ANY($2)`,
		delivered: `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, step = step + 1, delivered_at = $1,
			updated_at = $2, last_status = $3, last_error = '', lease_owner = NULL, lease_until = NULL
			WHERE lease_owner = $4 AND id = ANY($5)`,
		allDelivered: `SELECT v.id FROM unnest($1::text[]) AS v(id)` + allDeliveredWhere,
		backlog: `SELECT COUNT(*) AS n, COALESCE(MIN(next_attempt_at), '') AS oldest FROM deliveries
			WHERE status = 'pending' AND held = 0`,
		countDead: `SELECT COUNT(*) FROM deliveries WHERE status = 'dead' AND dead_at >= $1 AND length(payload) > 0`,
		heldCount: heldCountSelect + `WHERE held = 1`,
		noticesDue: `SELECT order_id, partner_id, MIN(created_at) AS first_at, COUNT(*) AS sent
			FROM deliveries
			WHERE event_type = '` + EventOrderErased + `' AND order_id IS NOT NULL AND (order_id, partner_id) > ($1, $2)
			GROUP BY order_id, partner_id
			HAVING MIN(created_at) >= $3 AND COUNT(*) <= $4 AND SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) = 0
			ORDER BY order_id, partner_id LIMIT $5`,
		notices:     noticesSelect + `order_id = ANY($2) GROUP BY order_id, partner_id ORDER BY order_id, partner_id`,
		disclosures: disclosuresSelect + `order_id = ANY($1) ORDER BY order_id, created_at`,
		disclosedTo: `SELECT DISTINCT order_id, partner_id FROM deliveries WHERE order_id = ANY($1)
			AND event_type = $2 AND (status = 'delivered' OR attempts > 0 OR lease_owner IS NOT NULL) ORDER BY order_id, partner_id`,
		dropPending: `UPDATE deliveries SET status = 'dead', dead_at = $1, updated_at = $2, last_error = 'order erased before delivery',
			lease_owner = NULL, lease_until = NULL WHERE order_id = ANY($3)
			AND status || '' = 'pending' AND event_type NOT IN (` + idsOnly + `)`,
		erasePayload: `UPDATE deliveries SET order_erased = 1,
			payload = CASE WHEN status = 'pending' AND event_type IN (` + idsOnly + `) THEN payload ELSE $1 END
			WHERE order_id = ANY($2)`,
		eraseBodies: `UPDATE delivery_attempts SET response_body = NULL WHERE response_body IS NOT NULL
			AND delivery_id IN (SELECT id FROM deliveries WHERE order_id = ANY($1))`,
		unrestrict:  `DELETE FROM restricted_orders WHERE order_id = ANY($1)`,
		holdPending: `UPDATE deliveries SET held = 1 WHERE order_id = ANY($1) AND status = 'pending' AND fields != '' AND held = 0`,
		releaseHeld: `UPDATE deliveries SET held = 0 WHERE held = 1 AND order_id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM restricted_orders r WHERE r.order_id = deliveries.order_id)`,
		restrictedBy: `SELECT DISTINCT request_id FROM restricted_subjects WHERE hash = ANY($1) ORDER BY request_id`,
		plainPays: `SELECT id, order_id, payload FROM deliveries WHERE order_id = ANY($1)
			AND length(payload) > 0 AND (fields != '' OR event_type = '` + EventOrderStatusChanged + `') AND substr(payload, 1, 1) != '\x00'::bytea`,
		plainBodies: `SELECT a.delivery_id, a.attempt, d.order_id, a.response_body FROM delivery_attempts a
			JOIN deliveries d ON d.id = a.delivery_id WHERE d.order_id = ANY($1)
			AND a.response_body IS NOT NULL AND substr(a.response_body, 1, 1) != '\x00'::bytea`,
	},
}
