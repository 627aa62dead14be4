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
	var err error
	if out.Erased, err = s.rows().erase(ctx, tx, now, ids); err != nil {
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
	if err := s.rows().eraseRelated(ctx, tx, out.Erased); err != nil {
		return out, fmt.Errorf("erase order data: %w", err)
	}
	for _, id := range out.Erased {
		if err := s.record(ctx, tx, actor, "order.erased", map[string]string{"order_id": id}, nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

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

func (s *Service) retentionRows(scans []retentionScan) []RetentionRow {
	out := make([]RetentionRow, len(scans))
	for i, r := range scans {
		out[i] = s.retentionRow(r)
	}
	return out
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

// ClosedBetween returns up to limit orders whose personal data is still
// held and that closed in [from, to) (from zero: since the first), oldest
// first, after the order with id after (empty: from the start). Retention
// finds the orders past retention with it: those that closed before the end
// of the last fiscal year whose retention has run out.
func (s *Service) ClosedBetween(ctx context.Context, from, to time.Time, after string, limit int) ([]RetentionRow, error) {
	rows, err := s.rows().closedBetween(ctx, closedBetweenParams{From: from, To: to, After: after, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("orders closed between: %w", err)
	}
	return s.retentionRows(rows), nil
}

// CountClosed counts the orders whose personal data is still held and that
// closed in [from, to), from the index alone.
func (s *Service) CountClosed(ctx context.Context, from, to time.Time) (int, error) {
	n, err := s.rows().countClosed(ctx, from, to)
	if err != nil {
		return 0, fmt.Errorf("count closed orders: %w", err)
	}
	return n, nil
}

// FirstClosed returns when the earliest order whose personal data is still
// held closed, or zero when none has.
func (s *Service) FirstClosed(ctx context.Context) (time.Time, error) {
	t, err := s.rows().firstClosed(ctx)
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
		rows, err := s.rows().retentionByID(ctx, q, part)
		if err != nil {
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
	rows, err := s.rows().openSince(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("open orders: %w", err)
	}
	return s.retentionRows(rows), nil
}

// ErasureConfirmations counts, per recipient, the given orders whose
// erasure the recipient confirmed.
func (s *Service) ErasureConfirmations(ctx context.Context, orderIDs []string) (map[string]int, error) {
	out := map[string]int{}
	for start := 0; start < len(orderIDs); start += 500 {
		counts, err := s.rows().erasureConfirmCounts(ctx, orderIDs[start:min(start+500, len(orderIDs))])
		if err != nil {
			return nil, fmt.Errorf("erasure confirmations: %w", err)
		}
		for p, n := range counts {
			out[p] += n
		}
	}
	return out, nil
}

// ErasureAcks returns, per order and recipient, when the recipient
// confirmed the erasure of the order's data (order.erasure_confirmed).
func (s *Service) ErasureAcks(ctx context.Context, orderIDs []string) (map[string]map[string]time.Time, error) {
	out := map[string]map[string]time.Time{}
	for part := range slices.Chunk(orderIDs, 500) {
		rows, err := s.rows().erasureAcks(ctx, part)
		if err != nil {
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
