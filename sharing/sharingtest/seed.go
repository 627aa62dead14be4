// Package sharingtest writes outbox rows straight into the database, as
// the service would have left them, for the benchmarks and tests that need
// far more of them than they could make through the API in their time: a
// backlog left by a recipient's outage, or a history of deliveries. The
// history and the backlog name no order (ids-only order.cancelled
// messages), alternate between two recipients, and carry the payload
// given; the disclosures are order.created rows of given orders.
package sharingtest

import (
	"context"
	"fmt"

	"github.com/milestone/husky/store"
)

// history: $1 rows, alternating between the partners $2 and $3, payload
// $4, every tenth dead and the rest delivered, all at $5.
var history = store.PerEngine[string]{
	SQLite: `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at, delivered_at, dead_at)
		SELECT printf('msg_%032x', x), CASE x % 2 WHEN 0 THEN $2 ELSE $3 END, NULL, 'order.cancelled', CAST($4 AS BLOB), 'bench', '',
			CASE WHEN x % 10 = 0 THEN 'dead' ELSE 'delivered' END, 1, $5, $5, $5,
			CASE WHEN x % 10 = 0 THEN NULL ELSE $5 END, CASE WHEN x % 10 = 0 THEN $5 ELSE NULL END
		FROM n`,
	PostgreSQL: `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at, delivered_at, dead_at)
		SELECT 'msg_' || lpad(to_hex(x), 32, '0'), CASE x % 2 WHEN 0 THEN $2 ELSE $3 END, NULL, 'order.cancelled',
			convert_to($4, 'UTF8'), 'bench', '', CASE WHEN x % 10 = 0 THEN 'dead' ELSE 'delivered' END, 1, $5, $5, $5,
			CASE WHEN x % 10 = 0 THEN NULL ELSE $5 END, CASE WHEN x % 10 = 0 THEN $5 ELSE NULL END
		FROM generate_series(1, $1::bigint) AS x`,
}

// backlog: $1 pending rows, alternating between the partners $2 and $3,
// payload $4, due since $5.
var backlog = store.PerEngine[string]{
	SQLite: `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at)
		SELECT printf('msg_%032x', x), CASE x % 2 WHEN 0 THEN $2 ELSE $3 END, NULL, 'order.cancelled',
			CAST($4 AS BLOB), 'bench', '', 'pending', 0, $5, $5, $5
		FROM n`,
	PostgreSQL: `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at)
		SELECT 'msg_' || lpad(to_hex(x), 32, '0'), CASE x % 2 WHEN 0 THEN $2 ELSE $3 END, NULL, 'order.cancelled',
			convert_to($4, 'UTF8'), 'bench', '', 'pending', 0, $5, $5, $5
		FROM generate_series(1, $1::bigint) AS x`,
}

// disclosures: the order.created deliveries of the orders ord_%032x for
// x from 1 to $1, their ids prefixed $2, to the recipient $3 with the
// fields $4, delivered at $5 (an erased payload: only the rows count).
// SQLite numbers parameters as they first appear, so they appear in order.
var disclosures = store.PerEngine[string]{
	SQLite: `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at, delivered_at)
		SELECT printf('%s%032x', $2, x), $3, printf('ord_%032x', x), 'order.created', CAST('' AS BLOB), 'bench', $4, 'delivered', 1,
			$5, $5, $5, $5
		FROM n`,
	PostgreSQL: `INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at, delivered_at)
		SELECT $2 || lpad(to_hex(x), 32, '0'), $3, 'ord_' || lpad(to_hex(x), 32, '0'), 'order.created', ''::bytea, 'bench', $4,
			'delivered', 1, $5, $5, $5, $5
		FROM generate_series(1, $1::bigint) AS x`,
}

// WriteDisclosures writes the delivered order.created deliveries of the
// orders ord_%032x, 1 to n, to the recipient partner with fields, at at;
// prefix (dla_, dlb_) keeps two recipients' ids apart.
func WriteDisclosures(ctx context.Context, db *store.DB, n int, partner, fields, at, prefix string) error {
	if _, err := db.Writer.ExecContext(ctx, *disclosures.For(db.Engine), n, prefix, partner, fields, at); err != nil {
		return fmt.Errorf("write disclosures: %w", err)
	}
	return nil
}

// WriteHistory writes n deliveries to the recipients a and b made at at,
// one in ten dead and the others delivered.
func WriteHistory(ctx context.Context, db *store.DB, n int, a, b string, payload []byte, at string) error {
	if _, err := db.Writer.ExecContext(ctx, *history.For(db.Engine), n, a, b, string(payload), at); err != nil {
		return fmt.Errorf("write deliveries: %w", err)
	}
	return nil
}

// WriteBacklog writes n deliveries to the recipients a and b, pending and
// due since at.
func WriteBacklog(ctx context.Context, db *store.DB, n int, a, b string, payload []byte, at string) error {
	if _, err := db.Writer.ExecContext(ctx, *backlog.For(db.Engine), n, a, b, string(payload), at); err != nil {
		return fmt.Errorf("write backlog: %w", err)
	}
	return nil
}
