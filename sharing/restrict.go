package sharing

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
)

// Restriction of sharing (GDPR Art. 18, 21): while one of a person's
// orders is restricted, no delivery carrying their personal data leaves the
// service. Such deliveries are held: pending, never claimed, their
// schedule and attempts untouched, until the restriction is lifted. Ids-only
// messages still go. Every recipient that received the data is told when a
// restriction starts and ends (Art. 19). A restricted subject (by keyed
// hash) has any order they place meanwhile restricted too.

// Event types of restriction notices, ids only.
const (
	EventOrderRestricted        = "order.restricted"
	EventOrderRestrictionLifted = "order.restriction_lifted"
)

const (
	sqlRestrictSubject   = `INSERT INTO restricted_subjects (hash, request_id, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	sqlRestrictOrder     = `INSERT INTO restricted_orders (order_id, request_id, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	sqlHoldPending       = `UPDATE deliveries SET held = 1 WHERE order_id IN (?) AND status = 'pending' AND fields != '' AND held = 0`
	sqlSubjectRestricted = `SELECT request_id FROM restricted_subjects WHERE hash IN (?) ORDER BY request_id LIMIT 1`
	sqlOrderRestricted   = `SELECT COUNT(*) FROM restricted_orders WHERE order_id = ?`
	sqlRestrictedBy      = `SELECT order_id FROM restricted_orders WHERE request_id = ? ORDER BY order_id`
	sqlLiftOrders        = `DELETE FROM restricted_orders WHERE request_id = ?`
	sqlLiftSubjects      = `DELETE FROM restricted_subjects WHERE request_id = ?`
	// Released are the orders no other restriction still holds.
	sqlReleaseHeld = `UPDATE deliveries SET held = 0 WHERE held = 1 AND order_id IN (?)
		AND NOT EXISTS (SELECT 1 FROM restricted_orders r WHERE r.order_id = deliveries.order_id)`
)

// Restrict restricts the given orders, and any order a person with one of
// hashes places later, under request requestID, inside tx: their pending
// personal deliveries are held, and every recipient that received one of
// them is sent order.restricted. It returns the notices queued.
func (o *Outbox) Restrict(ctx context.Context, tx *sqlx.Tx, actor, requestID string, hashes [][]byte, orderIDs []string) (int, error) {
	now := store.FormatTime(o.now())
	for _, h := range hashes {
		if len(h) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, sqlRestrictSubject, h, requestID, now); err != nil {
			return 0, fmt.Errorf("restrict subject: %w", err)
		}
	}
	for _, id := range orderIDs {
		if _, err := tx.ExecContext(ctx, sqlRestrictOrder, id, requestID, now); err != nil {
			return 0, fmt.Errorf("restrict order: %w", err)
		}
	}
	if len(orderIDs) == 0 {
		return 0, nil
	}
	q, args, err := sqlx.In(sqlHoldPending, orderIDs)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return 0, fmt.Errorf("hold deliveries: %w", err)
	}
	return o.notifyHolders(ctx, tx, actor, orderIDs, EventOrderRestricted)
}

// Lift ends the restrictions of request requestID inside tx: deliveries no
// other restriction holds are released, and every recipient that received
// the data is sent order.restriction_lifted. It returns the orders the
// request had restricted and the notices queued; the caller kicks the
// dispatcher after the commit.
func (o *Outbox) Lift(ctx context.Context, tx *sqlx.Tx, actor, requestID string) ([]string, int, error) {
	var ids []string
	if err := tx.SelectContext(ctx, &ids, sqlRestrictedBy, requestID); err != nil {
		return nil, 0, fmt.Errorf("restricted orders: %w", err)
	}
	for _, stmt := range []string{sqlLiftOrders, sqlLiftSubjects} {
		if _, err := tx.ExecContext(ctx, stmt, requestID); err != nil {
			return nil, 0, fmt.Errorf("lift restriction: %w", err)
		}
	}
	if len(ids) == 0 {
		return ids, 0, nil
	}
	q, args, err := sqlx.In(sqlReleaseHeld, ids)
	if err != nil {
		return nil, 0, err
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return nil, 0, fmt.Errorf("release deliveries: %w", err)
	}
	n, err := o.notifyHolders(ctx, tx, actor, ids, EventOrderRestrictionLifted)
	return ids, n, err
}

// notifyHolders queues an ids-only event to every recipient that received
// (or may have received) each order's data.
func (o *Outbox) notifyHolders(ctx context.Context, tx *sqlx.Tx, actor string, orderIDs []string, event string) (int, error) {
	holders, err := o.holders(ctx, tx, orderIDs)
	if err != nil {
		return 0, err
	}
	qs := make([]queued, 0, len(holders))
	for _, h := range holders {
		q, err := o.prepare(h.PartnerID, h.OrderID, event, OrderRef{OrderID: h.OrderID}, nil)
		if err != nil {
			return 0, err
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return 0, nil
	}
	return len(qs), o.insert(ctx, tx, actor, qs...)
}

type recipientOf struct {
	OrderID   string `db:"order_id"`
	PartnerID string `db:"partner_id"`
}

// holders returns, per order, the recipients that received its data or may
// have (delivered, attempted, or in flight).
func (o *Outbox) holders(ctx context.Context, tx *sqlx.Tx, orderIDs []string) ([]recipientOf, error) {
	var out []recipientOf
	for part := range slices.Chunk(orderIDs, 500) {
		q, args, err := sqlx.In(sqlDisclosedTo, part, EventOrderCreated)
		if err != nil {
			return nil, err
		}
		var some []recipientOf
		if err := tx.SelectContext(ctx, &some, q, args...); err != nil {
			return nil, fmt.Errorf("find recipients: %w", err)
		}
		out = append(out, some...)
	}
	return out, nil
}

// restrictNew restricts a new order whose person is restricted, and
// reports whether it did.
func (o *Outbox) restrictNew(ctx context.Context, tx *sqlx.Tx, ord *orders.Order) (bool, error) {
	var hashes [][]byte
	for _, h := range [][]byte{ord.EmailHash, ord.PhoneHash} {
		if len(h) > 0 {
			hashes = append(hashes, h)
		}
	}
	if len(hashes) == 0 {
		return false, nil
	}
	q, args, err := sqlx.In(sqlSubjectRestricted, hashes)
	if err != nil {
		return false, err
	}
	var req []string
	if err := tx.SelectContext(ctx, &req, q, args...); err != nil {
		return false, fmt.Errorf("restricted subject: %w", err)
	}
	if len(req) == 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, sqlRestrictOrder, ord.ID, req[0], store.FormatTime(o.now())); err != nil {
		return false, fmt.Errorf("restrict order: %w", err)
	}
	return true, nil
}

func orderRestricted(ctx context.Context, tx *sqlx.Tx, orderID string) (bool, error) {
	var n int
	if err := tx.GetContext(ctx, &n, sqlOrderRestricted, orderID); err != nil {
		return false, fmt.Errorf("order restricted: %w", err)
	}
	return n > 0, nil
}

// Update is the data of order.updated (GDPR Art. 19): the new values of
// the changed fields the recipient may receive, and nothing else.
type Update struct {
	OrderID string   `json:"order_id"`
	Contact *Contact `json:"contact,omitempty"`
	Address *Address `json:"address,omitempty"`
}

// ProjectUpdate returns what a recipient with allow-list allow may be told
// of a rectification of o that changed the named fields, and the personal
// fields it discloses (none: send nothing).
func ProjectUpdate(o *orders.Order, changed []string, allow []partners.Field) (Update, []partners.Field) {
	u := Update{OrderID: o.ID}
	var sent []partners.Field
	may := func(f partners.Field, name string) bool {
		return slices.Contains(allow, f) && slices.Contains(changed, name)
	}
	if may(partners.FieldPhone, orders.FieldPhone) {
		u.Contact = &Contact{Phone: o.Customer.Phone}
		sent = append(sent, partners.FieldPhone)
	}
	if may(partners.FieldEmail, orders.FieldEmail) {
		if u.Contact == nil {
			u.Contact = &Contact{}
		}
		u.Contact.Email = o.Customer.Email
		sent = append(sent, partners.FieldEmail)
	}
	if may(partners.FieldAddress, orders.FieldAddress) {
		a := o.ShipTo
		u.Address = &Address{Organization: a.Organization, Line1: a.Line1, Line2: a.Line2, City: a.City,
			PostalCode: a.PostalCode, Region: a.Region, Country: a.Country}
		sent = append(sent, partners.FieldAddress)
	}
	return u, sent
}

// rectified queues order.updated to every recipient that received the
// order and may receive one of the changed fields.
func (o *Outbox) rectified(ctx context.Context, tx *sqlx.Tx, ch orders.Change) error {
	holders, err := o.holders(ctx, tx, []string{ch.Order.ID})
	if err != nil || len(holders) == 0 {
		return err
	}
	held, err := orderRestricted(ctx, tx, ch.Order.ID)
	if err != nil {
		return err
	}
	rs, err := o.recipientsIn(ctx, tx)
	if err != nil {
		return err
	}
	var qs []queued
	for _, h := range holders {
		i := slices.IndexFunc(rs, func(p partners.Partner) bool { return p.ID == h.PartnerID })
		if i < 0 {
			continue
		}
		data, sent := ProjectUpdate(ch.Order, ch.Changed, rs[i].Fields)
		if len(sent) == 0 {
			continue
		}
		q, err := o.prepare(h.PartnerID, ch.Order.ID, EventOrderUpdated, data, sent)
		if err != nil {
			return err
		}
		q.country, q.basis, q.held, q.key = rs[i].Country, string(rs[i].TransferBasis), held, ch.Order.DataKey()
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return nil
	}
	return o.insert(ctx, tx, ch.Actor, qs...)
}

// EventOrderUpdated tells a recipient the new values of fields it received
// (a rectification, Art. 16 and 19).
const EventOrderUpdated = "order.updated"
