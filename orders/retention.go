package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/sqlite"
)

// ErrHoldReason is returned for an empty or over-long legal hold reason.
var ErrHoldReason = api.New(http.StatusUnprocessableEntity, "invalid_reason",
	"a legal hold needs a reason of 1 to 500 characters, without control, invisible or bidirectional formatting characters")

// Hold puts an order under legal hold: it is never purged until released.
// The reason is kept with the order; the audit trail records only its
// SHA-256, since free text may name people.
func (s *Service) Hold(ctx context.Context, actor, id, reason string) (*Order, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 || api.CheckText(reason, true) != "" {
		return nil, ErrHoldReason
	}
	sum := sha256.Sum256([]byte(reason))
	return s.setHold(ctx, actor, id, &reason, "order.hold_placed", map[string]string{"reason_sha256": hex.EncodeToString(sum[:])})
}

// Release lifts an order's legal hold.
func (s *Service) Release(ctx context.Context, actor, id string) (*Order, error) {
	return s.setHold(ctx, actor, id, nil, "order.hold_released", nil)
}

func (s *Service) setHold(ctx context.Context, actor, id string, reason *string, action string, details map[string]string) (*Order, error) {
	var out *Order
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		o, err := s.getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		at := sqlite.Time{}
		if reason != nil {
			at.Time = s.now()
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET legal_hold_reason = ?, legal_hold_at = ? WHERE id = ?`,
			sealOpt(o.key, reason, aadHoldReason), at, id); err != nil {
			return fmt.Errorf("set legal hold: %w", err)
		}
		if err := s.record(ctx, tx, actor, action, map[string]string{"order_id": id}, details); err != nil {
			return err
		}
		out, err = s.getOrder(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("legal hold: %w", err)
	}
	return out, nil
}

// RecomputeRetention recomputes every closed order's fiscal year and purge
// date with s.Retention, in batches, after the fiscal calendar changed.
func (s *Service) RecomputeRetention(ctx context.Context) (int, error) {
	if s.Retention == nil {
		return 0, nil
	}
	n, after := 0, ""
	for {
		var rows []struct {
			ID     string      `db:"id"`
			Closed sqlite.Time `db:"closed_at"`
		}
		if err := s.DB.Reader.SelectContext(ctx, &rows, `SELECT id, closed_at FROM orders WHERE closed_at IS NOT NULL AND id > ? ORDER BY id LIMIT 1000`, after); err != nil {
			return n, fmt.Errorf("recompute retention: %w", err)
		}
		if len(rows) == 0 {
			return n, nil
		}
		err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
			for _, r := range rows {
				fy, purge := s.Retention(r.Closed.Time)
				if _, err := tx.ExecContext(ctx, `UPDATE orders SET fiscal_year = ?, purge_after = ? WHERE id = ?`, fy, sqlite.FormatTime(purge), r.ID); err != nil {
					return fmt.Errorf("recompute retention: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(rows)
		after = rows[len(rows)-1].ID
	}
}

// Erased is what Erase did to a set of orders.
type Erased struct {
	Erased []string // erased now
	Held   []string // kept by a legal hold
	Gone   []string // erased before, or no such order
}

// Erase removes the personal data the orders package holds for the given
// orders, inside the caller's transaction and set by set (one statement
// per table, whatever the count): the contact, the address, the notes and
// the reference (which may hold a name), an operator's close reason,
// recipients' free-text messages and tracking, the timeline's details, and
// idempotency records. Ids, reseller, items, status, dates and fiscal year
// stay for statistics. An order under legal hold is left alone; an order
// already erased is not erased again.
func (s *Service) Erase(ctx context.Context, tx *sqlx.Tx, actor string, ids []string, now time.Time) (Erased, error) {
	var out Erased
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(sqlEraseOrders, sqlite.FormatTime(now), ids)
	if err != nil {
		return out, err
	}
	if err := tx.SelectContext(ctx, &out.Erased, q, args...); err != nil {
		return out, fmt.Errorf("erase orders: %w", err)
	}
	q, args, err = sqlx.In(sqlHeldOrders, ids)
	if err != nil {
		return out, err
	}
	if err := tx.SelectContext(ctx, &out.Held, q, args...); err != nil {
		return out, fmt.Errorf("erase orders: %w", err)
	}
	done := map[string]bool{}
	for _, id := range append(append([]string(nil), out.Erased...), out.Held...) {
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
	sqlEraseOrders = `UPDATE orders SET reference = 'erased:' || id, customer_name = '', customer_email = '', customer_phone = '',
		ship_organization = '', ship_line1 = '', ship_line2 = '', ship_city = '', ship_postal_code = '', ship_region = '',
		ship_country = '', notes = '', close_reason = CASE WHEN close_reason IS NULL THEN NULL ELSE '' END,
		email_hash = NULL, phone_hash = NULL, reference_hash = 'erased:' || id, legal_hold_reason = NULL, erased_at = ?
		WHERE id IN (?) AND erased_at IS NULL AND legal_hold_at IS NULL RETURNING id`
	sqlHeldOrders   = `SELECT id FROM orders WHERE id IN (?) AND erased_at IS NULL AND legal_hold_at IS NOT NULL`
	sqlEraseAnswers = `UPDATE order_recipients SET message = NULL, carrier = NULL, tracking_number = NULL, tracking_url = NULL
		WHERE order_id IN (?)`
	sqlEraseEvents      = `UPDATE order_events SET details = '{}' WHERE order_id IN (?) AND details != '{}'`
	sqlEraseIdempotency = `DELETE FROM idempotency_keys WHERE order_id IN (?)`
)

// RetentionRow is what retention needs of an order: ids, state and dates,
// never personal data.
type RetentionRow struct {
	OrderID    string     `json:"order_id" db:"id"`
	ResellerID string     `json:"reseller_id" db:"reseller_id"`
	Status     Status     `json:"status" db:"status"`
	FiscalYear *int       `json:"fiscal_year" db:"fiscal_year"`
	CreatedAt  time.Time  `json:"created_at" db:"-"`
	ClosedAt   *time.Time `json:"closed_at,omitempty" db:"-"`
	PurgeAfter *time.Time `json:"purge_after,omitempty" db:"-"`
	Held       bool       `json:"legal_hold" db:"held"`
}

type retentionScan struct {
	RetentionRow
	Created sqlite.Time `db:"created_at"`
	Closed  sqlite.Time `db:"closed_at"`
	Purge   sqlite.Time `db:"purge_after"`
}

const retentionColumns = `id, reseller_id, status, fiscal_year, created_at, closed_at, purge_after, legal_hold_at IS NOT NULL AS held`

func (s *Service) retentionRows(ctx context.Context, where string, args ...any) ([]RetentionRow, error) {
	var rows []retentionScan
	if err := s.DB.Reader.SelectContext(ctx, &rows, `SELECT `+retentionColumns+` FROM orders WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("retention query: %w", err)
	}
	out := make([]RetentionRow, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out, nil
}

func (r retentionScan) row() RetentionRow {
	out := r.RetentionRow
	out.CreatedAt, out.ClosedAt, out.PurgeAfter = r.Created.Time, optTime(r.Closed), optTime(r.Purge)
	return out
}

// PastRetention returns up to limit orders, after the id cursor, whose
// personal data is still held and whose purge date is before t: those to
// erase unless held, and held ones kept only by their hold.
func (s *Service) PastRetention(ctx context.Context, t time.Time, after string, limit int) ([]RetentionRow, error) {
	return s.retentionRows(ctx, `erased_at IS NULL AND purge_after IS NOT NULL AND purge_after < ? AND id > ? ORDER BY id LIMIT ?`,
		sqlite.FormatTime(t), after, limit)
}

// PastRetentionCounts counts, per fiscal year, the orders not under legal
// hold whose personal data is still held and whose purge date is before t:
// the purge report's chart, without reading every row.
func (s *Service) PastRetentionCounts(ctx context.Context, t time.Time) (map[int]int, error) {
	var rows []struct {
		FY int `db:"fiscal_year"`
		N  int `db:"n"`
	}
	if err := s.DB.Reader.SelectContext(ctx, &rows, `SELECT fiscal_year, COUNT(*) AS n FROM orders INDEXED BY orders_purgeable
		WHERE erased_at IS NULL AND purge_after IS NOT NULL AND purge_after < ? AND legal_hold_at IS NULL GROUP BY fiscal_year`,
		sqlite.FormatTime(t)); err != nil {
		return nil, fmt.Errorf("count past retention: %w", err)
	}
	out := make(map[int]int, len(rows))
	for _, r := range rows {
		out[r.FY] = r.N
	}
	return out, nil
}

// PastRetentionInYear returns up to limit orders of fiscal year fy, after
// the id cursor, not under legal hold, whose purge date is before t.
func (s *Service) PastRetentionInYear(ctx context.Context, t time.Time, fy int, after string, limit int) ([]RetentionRow, error) {
	return s.retentionRows(ctx, `erased_at IS NULL AND purge_after IS NOT NULL AND purge_after < ? AND legal_hold_at IS NULL
		AND fiscal_year = ? AND id > ? ORDER BY id LIMIT ?`, sqlite.FormatTime(t), fy, after, limit)
}

// HeldOrders returns every order under legal hold whose data is still held.
func (s *Service) HeldOrders(ctx context.Context) ([]RetentionRow, error) {
	return s.retentionRows(ctx, `erased_at IS NULL AND legal_hold_at IS NOT NULL ORDER BY id`)
}

// OpenSince returns orders that never reached a final state and were
// created before t.
func (s *Service) OpenSince(ctx context.Context, t time.Time) ([]RetentionRow, error) {
	return s.retentionRows(ctx, `closed_at IS NULL AND erased_at IS NULL AND created_at < ? ORDER BY id`, sqlite.FormatTime(t))
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
