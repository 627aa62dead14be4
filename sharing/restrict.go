package sharing

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
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

// RestrictionKind is what a restriction of an order stands for.
type RestrictionKind string

// The kinds of restriction.
const (
	// KindRestriction: a restriction (Art. 18) or objection (Art. 21) the
	// DPO may lift.
	KindRestriction RestrictionKind = "restriction"
	// KindRetainedErasure: an erasure the service must defer (bookkeeping,
	// a legal hold); the data is kept, never shared, and no request lifts it.
	KindRetainedErasure RestrictionKind = "retained_erasure"
	// KindNewOrder: a restricted person's new order, held for the DPO to
	// review.
	KindNewOrder RestrictionKind = "new_order"
)

// ErrRetainedErasure is returned by Lift for a request whose restriction
// stands because an erasure is retained.
var ErrRetainedErasure = api.New(http.StatusConflict, "restriction_retains_erasure",
	"this restriction stands because an erasure is retained (bookkeeping or a legal hold) and cannot be lifted")

// Hashed is a keyed hash of an identifier and the lookup key version it
// was made with.
type Hashed struct {
	Hash    []byte
	Version uint32
}

// Restrict restricts the given orders as kind, and any order a person
// with one of hashes places later, under request requestID, inside tx:
// their pending personal deliveries are held, and every recipient that
// received one of them is sent order.restricted. An order the request
// restricted already is not told again. It returns the notices queued.
func (o *Outbox) Restrict(ctx context.Context, tx *store.Tx, actor, requestID string, kind RestrictionKind, hashes []Hashed, orderIDs []string) (int, error) {
	now := o.Clock.Now()
	if err := o.bindHashes(ctx, tx, requestID, now, hashes); err != nil {
		return 0, err
	}
	before, err := o.restrictedBy(ctx, tx, requestID)
	if err != nil {
		return 0, err
	}
	var fresh []string
	for _, id := range orderIDs {
		if err := o.rows().restrictOrder(ctx, tx, restrictOrderParams{OrderID: id, RequestID: requestID, Since: now, Kind: kind}); err != nil {
			return 0, fmt.Errorf("restrict order: %w", err)
		}
		if _, was := before[id]; !was {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if err := o.rows().holdPending(ctx, tx, fresh); err != nil {
		return 0, fmt.Errorf("hold deliveries: %w", err)
	}
	return o.notifyHolders(ctx, tx, actor, fresh, EventOrderRestricted)
}

// bindHashes restricts, under requestID, any order placed later by a
// person with one of hashes.
func (o *Outbox) bindHashes(ctx context.Context, tx *store.Tx, requestID string, now time.Time, hashes []Hashed) error {
	for _, h := range hashes {
		if len(h.Hash) == 0 {
			continue
		}
		if err := o.rows().bindHash(ctx, tx, requestID, h.Hash, max(h.Version, 1), now); err != nil {
			return fmt.Errorf("restrict subject: %w", err)
		}
	}
	return nil
}

// restrictedBy returns the orders request requestID restricts, by kind.
func (o *Outbox) restrictedBy(ctx context.Context, q sqlx.QueryerContext, requestID string) (map[string]RestrictionKind, error) {
	rows, err := o.rows().restrictedBy(ctx, q, requestID)
	if err != nil {
		return nil, fmt.Errorf("restricted orders: %w", err)
	}
	out := make(map[string]RestrictionKind, len(rows))
	for _, r := range rows {
		out[r.OrderID] = r.Kind
	}
	return out, nil
}

// RestrictedBy returns the orders request requestID restricts and what
// each restriction stands for, read through q (nil: the read pool).
func (o *Outbox) RestrictedBy(ctx context.Context, q sqlx.QueryerContext, requestID string) (map[string]RestrictionKind, error) {
	if q == nil {
		q = o.Partners.DB.Reader
	}
	return o.restrictedBy(ctx, q, requestID)
}

// Lift ends the restrictions of request requestID inside tx: deliveries no
// other restriction holds are released, and every recipient that received
// the data is sent order.restriction_lifted. A request whose restriction
// keeps a retained erasure is not lifted: ErrRetainedErasure. It returns
// the orders the request had restricted and the notices queued; the caller
// kicks the dispatcher after the commit.
func (o *Outbox) Lift(ctx context.Context, tx *store.Tx, actor, requestID string) ([]string, int, error) {
	retained, err := o.rows().retainedCount(ctx, tx, requestID)
	if err != nil {
		return nil, 0, fmt.Errorf("retained erasures: %w", err)
	}
	if retained > 0 {
		return nil, 0, ErrRetainedErasure
	}
	by, err := o.restrictedBy(ctx, tx, requestID)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if err := o.rows().liftAll(ctx, tx, requestID); err != nil {
		return nil, 0, fmt.Errorf("lift restriction: %w", err)
	}
	n, err := o.release(ctx, tx, actor, ids)
	return ids, n, err
}

// LiftOrders ends request requestID's restriction of the given orders only
// (the DPO excluded them from the request), as Lift does; a retained
// erasure stays. It returns the notices queued.
func (o *Outbox) LiftOrders(ctx context.Context, tx *store.Tx, actor, requestID string, orderIDs []string) (int, error) {
	by, err := o.restrictedBy(ctx, tx, requestID)
	if err != nil {
		return 0, err
	}
	var lifted []string
	for _, id := range orderIDs {
		if k, ok := by[id]; !ok || k == KindRetainedErasure {
			continue
		}
		if err := o.rows().liftOrder(ctx, tx, requestID, id); err != nil {
			return 0, fmt.Errorf("lift restriction: %w", err)
		}
		lifted = append(lifted, id)
	}
	return o.release(ctx, tx, actor, lifted)
}

// release lets the deliveries of orders no restriction holds any more
// flow, and tells every recipient that received their data.
func (o *Outbox) release(ctx context.Context, tx *store.Tx, actor string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if err := o.rows().releaseHeld(ctx, tx, ids); err != nil {
		return 0, fmt.Errorf("release deliveries: %w", err)
	}
	return o.notifyHolders(ctx, tx, actor, ids, EventOrderRestrictionLifted)
}

// BindingHashes returns the keyed hashes request requestID's restriction
// binds to: any new order holding one of them is held.
func (o *Outbox) BindingHashes(ctx context.Context, q sqlx.QueryerContext, requestID string) ([][]byte, error) {
	if q == nil {
		q = o.Partners.DB.Reader
	}
	out, err := o.rows().bindingHashes(ctx, q, requestID)
	if err != nil {
		return nil, fmt.Errorf("binding hashes: %w", err)
	}
	return out, nil
}

// notifyHolders queues an ids-only event to every recipient that received
// (or may have received) each order's data.
func (o *Outbox) notifyHolders(ctx context.Context, tx *store.Tx, actor string, orderIDs []string, event string) (int, error) {
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

// recipientOf is one recipient of one order's data.
type recipientOf = holderRow

// holders returns, per order, the recipients that received its data or may
// have (delivered, attempted, or in flight).
func (o *Outbox) holders(ctx context.Context, tx *store.Tx, orderIDs []string) ([]recipientOf, error) {
	var out []recipientOf
	for part := range slices.Chunk(orderIDs, 500) {
		some, err := o.rows().disclosedTo(ctx, tx, part)
		if err != nil {
			return nil, fmt.Errorf("find recipients: %w", err)
		}
		out = append(out, some...)
	}
	return out, nil
}

// restrictNew restricts a new order whose person is restricted, under
// every request that binds one of its identifiers, for the DPO to review,
// and reports whether it did.
func (o *Outbox) restrictNew(ctx context.Context, tx *store.Tx, ord *orders.Order) (bool, error) {
	// Under every lookup key held: a restriction may have been made under
	// an older one.
	var hashes [][]byte
	for _, h := range append([][]byte{ord.EmailHash, ord.PhoneHash}, ord.LookupHashes...) {
		if len(h) > 0 {
			hashes = append(hashes, h)
		}
	}
	if len(hashes) == 0 {
		return false, nil
	}
	reqs, err := o.rows().requestsBinding(ctx, tx, hashes)
	if err != nil {
		return false, fmt.Errorf("restricted subject: %w", err)
	}
	now := o.Clock.Now()
	for _, req := range reqs {
		if err := o.rows().restrictOrder(ctx, tx, restrictOrderParams{OrderID: ord.ID, RequestID: req, Since: now, Kind: KindNewOrder}); err != nil {
			return false, fmt.Errorf("restrict order: %w", err)
		}
	}
	return len(reqs) > 0, nil
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
func (o *Outbox) rectified(ctx context.Context, tx *store.Tx, ch orders.Change) error {
	// A restriction binds to the person: the rectified identifiers of a
	// restricted order are bound too, so that a new order with them is held.
	reqs, err := o.rows().restrictingRequests(ctx, tx, ch.Order.ID)
	if err != nil {
		return fmt.Errorf("restricting requests: %w", err)
	}
	for _, req := range reqs {
		v := ch.Order.LookupVersion
		if err := o.bindHashes(ctx, tx, req, o.Clock.Now(), []Hashed{{ch.Order.EmailHash, v}, {ch.Order.PhoneHash, v}}); err != nil {
			return err
		}
	}
	holders, err := o.holders(ctx, tx, []string{ch.Order.ID})
	if err != nil || len(holders) == 0 {
		return err
	}
	held := len(reqs) > 0
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

// TranslateHashes follows a re-hash of orders under lookup key version
// (orders.Rehash): each restriction bound to a hash made again is bound to
// the new one too. One bound to a hash on no live order stays under the
// old key, which is kept while anything was hashed with it.
func (o *Outbox) TranslateHashes(ctx context.Context, tx *store.Tx, changed map[string][]byte, version uint32) error {
	rows, err := o.rows().bindingsToRehash(ctx, tx, version)
	if err != nil {
		return fmt.Errorf("restrictions to re-hash: %w", err)
	}
	for _, r := range rows {
		h, ok := changed[hex.EncodeToString(r.Hash)]
		if !ok || len(h) == 0 {
			continue
		}
		if err := o.rows().bindHash(ctx, tx, r.RequestID, h, version, r.Since.Time); err != nil {
			return fmt.Errorf("re-hash restriction: %w", err)
		}
		if err := o.rows().unbindHash(ctx, tx, r.RequestID, r.Hash); err != nil {
			return fmt.Errorf("re-hash restriction: %w", err)
		}
	}
	return nil
}

// LookupVersions returns the lookup key versions restrictions are bound
// under.
func (o *Outbox) LookupVersions(ctx context.Context) (map[uint32]bool, error) {
	vs, err := o.rows().bindingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("restriction lookup versions: %w", err)
	}
	out := map[uint32]bool{}
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}
