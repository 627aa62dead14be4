package orders

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// Erased is what Erase did to a set of orders.
type Erased struct {
	Erased []string // erased now
	Gone   []string // erased before, or no such order
}

// Erase removes the personal data the orders package holds for the given
// orders, inside the caller's transaction and set by set (one statement
// per table, whatever the count): the contact, the address, the notes and
// the reference (which may hold a name), an operator's close reason,
// recipients' free-text messages and tracking, the timeline's details, and
// idempotency records. Ids, reseller, items, status and dates stay for
// statistics. An order already erased is not erased again. Legal holds are
// retention's: its callers leave held orders out.
func (s *Service) Erase(ctx context.Context, tx *store.Tx, actor string, ids []string, now time.Time) (Erased, error) {
	var out Erased
	if len(ids) == 0 {
		return out, nil
	}
	erased := s.DB.Bytes("'erased:' || id")
	q, args, err := sqlx.In(fmt.Sprintf(sqlEraseOrders, erased, s.DB.Bytes("''"), erased), store.FormatTime(now), ids)
	if err != nil {
		return out, err
	}
	if err := tx.SelectContext(ctx, &out.Erased, q, args...); err != nil {
		return out, fmt.Errorf("erase orders: %w", err)
	}
	done := map[string]bool{}
	for _, id := range out.Erased {
		done[id] = true
	}
	for _, id := range ids {
		if !done[id] {
			out.Gone = append(out.Gone, id)
		}
	}
	if len(out.Erased) == 0 {
		return out, nil
	}
	// Crypto-shredding: without its data key, no sealed copy of the
	// order's data opens, in this file or in a backup.
	if s.Vault != nil {
		if err := s.Vault.Destroy(ctx, tx, out.Erased); err != nil {
			return out, err
		}
	}
	for _, stmt := range []string{sqlEraseAnswers, sqlEraseEvents, sqlEraseIdempotency} {
		q, args, err := sqlx.In(stmt, out.Erased)
		if err != nil {
			return out, err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return out, fmt.Errorf("erase order data: %w", err)
		}
	}
	for _, id := range out.Erased {
		if err := s.record(ctx, tx, actor, "order.erased", map[string]string{"order_id": id}, nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

const (
	// The reference and its hash become the order id: unique per reseller,
	// and the original may name a person.
	sqlEraseOrders = `UPDATE orders SET reference = %s, customer_name = '', customer_email = '', customer_phone = '',
		ship_organization = '', ship_line1 = '', ship_line2 = '', ship_city = '', ship_postal_code = '', ship_region = '',
		ship_country = '', notes = '', close_reason = CASE WHEN close_reason IS NULL THEN NULL ELSE %s END,
		email_hash = NULL, phone_hash = NULL, reference_hash = %s, erased_at = ?
		WHERE id IN (?) AND erased_at IS NULL RETURNING id`
	sqlEraseAnswers = `UPDATE order_recipients SET message = NULL, carrier = NULL, tracking_number = NULL, tracking_url = NULL
		WHERE order_id IN (?)`
	sqlEraseEvents      = `UPDATE order_events SET details = '{}' WHERE order_id IN (?) AND details != '{}'`
	sqlEraseIdempotency = `DELETE FROM idempotency_keys WHERE order_id IN (?)`
)

// RetentionRow is what retention needs of an order: ids, state and dates,
// never personal data. FiscalYear and PurgeAfter are worked out from
// ClosedAt and the calendar in force.
type RetentionRow struct {
	OrderID    string     `json:"order_id" db:"id"`
	ResellerID string     `json:"reseller_id" db:"reseller_id"`
	Status     Status     `json:"status" db:"status"`
	FiscalYear *int       `json:"fiscal_year" db:"-"`
	CreatedAt  time.Time  `json:"created_at" db:"-"`
	ClosedAt   *time.Time `json:"closed_at,omitempty" db:"-"`
	PurgeAfter *time.Time `json:"purge_after,omitempty" db:"-"`
}

type retentionScan struct {
	RetentionRow
	Created store.Time `db:"created_at"`
	Closed  store.Time `db:"closed_at"`
}

const retentionColumns = `id, reseller_id, status, created_at, closed_at`

func (s *Service) retentionRows(ctx context.Context, where string, args ...any) ([]RetentionRow, error) {
	var rows []retentionScan
	if err := s.DB.Reader.SelectContext(ctx, &rows, `SELECT `+retentionColumns+` FROM orders WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("retention query: %w", err)
	}
	out := make([]RetentionRow, len(rows))
	for i, r := range rows {
		out[i] = s.retentionRow(r)
	}
	return out, nil
}

func (s *Service) retentionRow(r retentionScan) RetentionRow {
	out := r.RetentionRow
	out.CreatedAt, out.ClosedAt = r.Created.Time, optTime(r.Closed)
	if out.ClosedAt != nil && s.Retention != nil {
		fy, after := s.Retention(*out.ClosedAt)
		out.FiscalYear, out.PurgeAfter = &fy, &after
	}
	return out
}

// The orders whose personal data is still held, by closing time: a range
// of orders_closed, paged by (closed_at, id) after the cursor's order.
const sqlClosedBetween = `erased_at IS NULL AND closed_at IS NOT NULL AND closed_at >= ? AND closed_at < ?
	AND (closed_at, id) > (COALESCE((SELECT closed_at FROM orders WHERE id = ?), ''), ?)
	ORDER BY closed_at, id LIMIT ?`

// ClosedBetween returns up to limit orders whose personal data is still
// held and that closed in [from, to) (from zero: since the first), oldest
// first, after the order with id after (empty: from the start). Retention
// finds the orders past retention with it: those that closed before the end
// of the last fiscal year whose retention has run out.
func (s *Service) ClosedBetween(ctx context.Context, from, to time.Time, after string, limit int) ([]RetentionRow, error) {
	lo := ""
	if !from.IsZero() {
		lo = store.FormatTime(from)
	}
	return s.retentionRows(ctx, sqlClosedBetween, lo, store.FormatTime(to), after, after, limit)
}

// CountClosed counts the orders whose personal data is still held and that
// closed in [from, to), from the index alone.
func (s *Service) CountClosed(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := s.DB.Reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM orders WHERE erased_at IS NULL AND closed_at IS NOT NULL
		AND closed_at >= ? AND closed_at < ?`, store.FormatTime(from), store.FormatTime(to))
	if err != nil {
		return 0, fmt.Errorf("count closed orders: %w", err)
	}
	return n, nil
}

// FirstClosed returns when the earliest order whose personal data is still
// held closed, or zero when none has.
func (s *Service) FirstClosed(ctx context.Context) (time.Time, error) {
	var t store.Time
	err := s.DB.Reader.GetContext(ctx, &t, `SELECT MIN(closed_at) FROM orders WHERE erased_at IS NULL AND closed_at IS NOT NULL`)
	if err != nil {
		return time.Time{}, fmt.Errorf("first closed order: %w", err)
	}
	return t.Time, nil
}

// RetentionRows returns the given orders whose personal data is still
// held, by id.
func (s *Service) RetentionRows(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]RetentionRow, error) {
	if q == nil {
		q = s.DB.Reader
	}
	var out []RetentionRow
	for part := range slices.Chunk(ids, 500) {
		query, args, err := sqlx.In(`SELECT `+retentionColumns+` FROM orders WHERE erased_at IS NULL AND id IN (?) ORDER BY id`, part)
		if err != nil {
			return nil, err
		}
		var rows []retentionScan
		if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
			return nil, fmt.Errorf("retention rows: %w", err)
		}
		for _, r := range rows {
			out = append(out, s.retentionRow(r))
		}
	}
	return out, nil
}

// OpenSince returns orders that never reached a final state and were
// created before t.
func (s *Service) OpenSince(ctx context.Context, t time.Time) ([]RetentionRow, error) {
	return s.retentionRows(ctx, `closed_at IS NULL AND erased_at IS NULL AND created_at < ? ORDER BY id`, store.FormatTime(t))
}

// ErasureConfirmations counts, per recipient, the given orders whose
// erasure the recipient confirmed.
func (s *Service) ErasureConfirmations(ctx context.Context, orderIDs []string) (map[string]int, error) {
	out := map[string]int{}
	for start := 0; start < len(orderIDs); start += 500 {
		q, args, err := sqlx.In(`SELECT partner_id, COUNT(*) AS n FROM order_recipients
			WHERE erasure_confirmed_at IS NOT NULL AND order_id IN (?) GROUP BY partner_id`, orderIDs[start:min(start+500, len(orderIDs))])
		if err != nil {
			return nil, err
		}
		var rows []struct {
			PartnerID string `db:"partner_id"`
			N         int    `db:"n"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("erasure confirmations: %w", err)
		}
		for _, r := range rows {
			out[r.PartnerID] += r.N
		}
	}
	return out, nil
}

const sqlErasureAcks = `SELECT order_id, partner_id, erasure_confirmed_at FROM order_recipients
	WHERE erasure_confirmed_at IS NOT NULL AND order_id IN (?)`

// ErasureAcks returns, per order and recipient, when the recipient
// confirmed the erasure of the order's data (order.erasure_confirmed).
func (s *Service) ErasureAcks(ctx context.Context, orderIDs []string) (map[string]map[string]time.Time, error) {
	out := map[string]map[string]time.Time{}
	for part := range slices.Chunk(orderIDs, 500) {
		q, args, err := sqlx.In(sqlErasureAcks, part)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			OrderID   string     `db:"order_id"`
			PartnerID string     `db:"partner_id"`
			At        store.Time `db:"erasure_confirmed_at"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("erasure acknowledgements: %w", err)
		}
		for _, r := range rows {
			if out[r.OrderID] == nil {
				out[r.OrderID] = map[string]time.Time{}
			}
			out[r.OrderID][r.PartnerID] = r.At.Time
		}
	}
	return out, nil
}
