package sharing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
	"github.com/milestone/husky/vault"
)

// Outbox writes deliveries in the transaction of the order change that
// causes them, so an acknowledged order always has its deliveries and a
// failed transaction leaves neither. It implements orders.Hook.
type Outbox struct {
	Partners *partners.Store
	Audit    audit.Recorder
	Clock    base.Clock

	kick chan struct{}
}

func (o *Outbox) rows() deliveryRows { return deliveryRows{o.Partners.DB} }

// partnersRead holds the partners read in one transaction. A group commit
// creates many orders and the dispatcher moves many to shared in one
// transaction; partners do not change inside either, so each is read once.
type partnersRead struct {
	recipients []partners.Partner // nil until read
	resellers  map[string]partners.Partner
}

// readIn returns what was read in tx. Only the goroutine running tx uses
// it, as it alone uses tx.
func (o *Outbox) readIn(tx *store.Tx) *partnersRead {
	return store.Read(tx, "sharing.partners", func() *partnersRead {
		return &partnersRead{resellers: map[string]partners.Partner{}}
	})
}

// NewOutbox returns an outbox whose Kicks wake the dispatcher.
func NewOutbox(ps *partners.Store, rec audit.Recorder, now func() time.Time) *Outbox {
	return &Outbox{Partners: ps, Audit: rec, Clock: now, kick: make(chan struct{}, 1)}
}

// Kick wakes the dispatcher after a commit, so delivery starts at once
// instead of at the next poll.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Kicked is the channel Kick signals.
func (o *Outbox) Kicked() <-chan struct{} { return o.kick }

// OrderChanged enqueues order.created for every recipient when an order is
// created, and order.cancelled for every recipient that was sent the order
// when it is cancelled.
func (o *Outbox) OrderChanged(ctx context.Context, tx *store.Tx, ch orders.Change) error {
	switch ch.Kind {
	case orders.ChangeCreated:
		rs, err := o.recipientsIn(ctx, tx)
		if err != nil {
			return err
		}
		held, err := o.restrictNew(ctx, tx, ch.Order)
		if err != nil {
			return err
		}
		qs := make([]queued, 0, len(rs))
		for _, r := range rs {
			data, sent := Project(ch.Order, r.Fields)
			q, err := o.prepare(r.ID, ch.Order.ID, EventOrderCreated, data, sent)
			if err != nil {
				return err
			}
			q.country, q.basis, q.held, q.key = r.Country, string(r.TransferBasis), held, ch.Order.DataKey()
			qs = append(qs, q)
		}
		return o.insert(ctx, tx, ch.Actor, qs...)
	case orders.ChangeCancelled:
		if err := o.NotifyRecipients(ctx, tx, ch.Actor, ch.Order.ID, EventOrderCancelled); err != nil {
			return err
		}
		return o.notifyReseller(ctx, tx, ch)
	case orders.ChangeStatus:
		return o.notifyReseller(ctx, tx, ch)
	case orders.ChangeImported:
		return o.recordImportedDisclosures(ctx, tx, ch)
	case orders.ChangeRectified:
		return o.rectified(ctx, tx, ch)
	}
	return nil
}

// recordImportedDisclosures records, as delivered order.created rows with
// no payload, the recipients an earlier system shared an imported order
// with, so that callbacks and erasure notices reach them like any other.
//
// The earlier system disclosed it when the order was placed: the rows
// carry the order's own creation time, never the import's, so that an
// access export says when the recipient got the data.
func (o *Outbox) recordImportedDisclosures(ctx context.Context, tx *store.Tx, ch orders.Change) error {
	at := ch.Order.CreatedAt
	if at.IsZero() {
		at = o.Clock.Now()
	}
	for _, pid := range ch.DisclosedTo {
		id := NewDeliveryID()
		if err := o.rows().insertImported(ctx, tx, id, pid, ch.Order.ID, at); err != nil {
			return fmt.Errorf("record imported disclosure: %w", err)
		}
		if err := record(ctx, o.Audit, tx, ch.Actor, "disclosure.imported", map[string]string{"order_id": ch.Order.ID, "delivery_id": id, "partner_id": pid},
			map[string]string{"source": "import"}); err != nil {
			return err
		}
	}
	return nil
}

// Erase removes the personal data the outbox holds for the given orders,
// inside the caller's transaction and set by set: every stored payload and
// every recorded answer body. Deliveries not yet attempted are dropped
// (marked dead) since nothing was disclosed, except those that carry ids
// only (order.cancelled, a notice), which still go. Then every recipient
// that received the data, or may have (an attempt was made or is under
// way), is sent order.erased (ids only) through the outbox (GDPR Art. 19).
// It returns how many notices were queued.
func (o *Outbox) Erase(ctx context.Context, tx *store.Tx, actor string, orderIDs []string) (int, error) {
	if len(orderIDs) == 0 {
		return 0, nil
	}
	// Who may hold the data: delivered, attempted, or in flight right now.
	// Read before the pending deliveries are dropped and their leases go.
	holders, err := o.rows().disclosedTo(ctx, tx, orderIDs)
	if err != nil {
		return 0, fmt.Errorf("find recipients: %w", err)
	}
	if err := o.rows().erase(ctx, tx, orderIDs, o.Clock.Now()); err != nil {
		return 0, fmt.Errorf("erase outbox data: %w", err)
	}
	qs := make([]queued, 0, len(holders))
	for _, h := range holders {
		n, err := o.prepare(h.PartnerID, h.OrderID, EventOrderErased, OrderRef{OrderID: h.OrderID}, nil)
		if err != nil {
			return 0, err
		}
		n.orderErased = true
		qs = append(qs, n)
	}
	if len(qs) == 0 {
		return 0, nil
	}
	return len(qs), o.insert(ctx, tx, actor, qs...)
}

// idsOnlyEvents carry no personal data (OrderRef): a pending one still
// goes after its order is erased.
var idsOnlyEvents = []string{EventOrderCancelled, EventOrderErased, EventOrderRestricted, EventOrderRestrictionLifted}

// StatusChange is the data of order.status_changed, sent to the reseller
// that owns the order. It carries the reseller's own reference and the
// fulfilment progress, and no personal data at all.
type StatusChange struct {
	OrderID        string            `json:"order_id"`
	Reference      string            `json:"reference"`
	Status         orders.Status     `json:"status"`
	PreviousStatus orders.Status     `json:"previous_status"`
	Recipients     []RecipientStatus `json:"recipients"`
	Shipments      []orders.Shipment `json:"shipments"`
}

// RecipientStatus is one recipient's latest answer, without free text.
type RecipientStatus struct {
	PartnerID string        `json:"partner_id"`
	Status    orders.Status `json:"status,omitempty"`
}

// EventOrderStatusChanged is sent to resellers on every transition.
const EventOrderStatusChanged = "order.status_changed"

// notifyReseller enqueues order.status_changed for the order's reseller,
// if it registered a webhook endpoint.
func (o *Outbox) notifyReseller(ctx context.Context, tx *store.Tx, ch orders.Change) error {
	r, err := o.resellerIn(ctx, tx, ch.Order.ResellerID)
	if err != nil || r.EndpointURL == "" {
		return err
	}
	sc := StatusChange{OrderID: ch.Order.ID, Reference: ch.Order.Reference, Status: ch.Order.Status,
		PreviousStatus: ch.From, Recipients: []RecipientStatus{}, Shipments: ch.Order.Shipments}
	if sc.Shipments == nil {
		sc.Shipments = []orders.Shipment{}
	}
	for _, a := range ch.Order.Recipients {
		sc.Recipients = append(sc.Recipients, RecipientStatus{PartnerID: a.PartnerID, Status: a.Status})
	}
	// The reseller's reference and the tracking are sealed with the
	// order's key like the rest of its data.
	q, err := o.prepare(r.ID, ch.Order.ID, EventOrderStatusChanged, sc, nil)
	if err != nil {
		return err
	}
	q.key = ch.Order.DataKey()
	return o.insert(ctx, tx, ch.Actor, q)
}

// SharedWith reports whether the partner was sent the order (an
// order.created delivery exists for it), inside q.
func SharedWith(ctx context.Context, q sqlx.QueryerContext, orderID, partnerID string) (bool, error) {
	n, err := deliveryRows{}.sharedWith(ctx, q, orderID, partnerID)
	if err != nil {
		return false, fmt.Errorf("shared with: %w", err)
	}
	return n > 0, nil
}

// ErasureNoticeSent reports whether the partner was sent an erasure notice
// for the order (an order.erased delivery that arrived, was attempted, or
// is in flight), inside q.
func ErasureNoticeSent(ctx context.Context, q sqlx.QueryerContext, orderID, partnerID string) (bool, error) {
	n, err := deliveryRows{}.noticesSent(ctx, q, orderID, partnerID)
	if err != nil {
		return false, fmt.Errorf("erasure notice sent: %w", err)
	}
	return n > 0, nil
}

// NotifyRecipients enqueues an ids-only event (order.cancelled,
// order.erased) to every recipient that was sent the order.
func (o *Outbox) NotifyRecipients(ctx context.Context, tx *store.Tx, actor, orderID, event string) error {
	ids, err := o.rows().recipientsOf(ctx, tx, orderID, EventOrderCreated)
	if err != nil {
		return fmt.Errorf("find recipients of order: %w", err)
	}
	for _, pid := range ids {
		if _, err := o.enqueue(ctx, tx, actor, pid, orderID, event, OrderRef{OrderID: orderID}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue writes one delivery inside tx and returns its id.
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, actor, partnerID, orderID, event string, data any) (string, error) {
	return o.enqueue(ctx, tx, actor, partnerID, orderID, event, data, nil)
}

func (o *Outbox) enqueue(ctx context.Context, tx *store.Tx, actor, partnerID, orderID, event string, data any, sent []partners.Field) (string, error) {
	q, err := o.prepare(partnerID, orderID, event, data, sent)
	if err != nil {
		return "", err
	}
	return q.id, o.insert(ctx, tx, actor, q)
}

// recipientsIn returns the recipients, read once per transaction.
func (o *Outbox) recipientsIn(ctx context.Context, tx *store.Tx) ([]partners.Partner, error) {
	read := o.readIn(tx)
	if read.recipients != nil {
		return read.recipients, nil
	}
	rs, err := o.Partners.Recipients(ctx, tx)
	if err != nil {
		return nil, err
	}
	read.recipients = rs
	return rs, nil
}

// resellerIn returns a reseller, read once per transaction.
func (o *Outbox) resellerIn(ctx context.Context, tx *store.Tx, id string) (partners.Partner, error) {
	read := o.readIn(tx)
	if r, ok := read.resellers[id]; ok {
		return r, nil
	}
	r, err := o.Partners.GetTx(ctx, tx, id)
	if err != nil {
		return partners.Partner{}, err
	}
	read.resellers[id] = r
	return r, nil
}

// queued is one delivery ready to be written.
type queued struct {
	id, partnerID, orderID, event, hash, fields string
	body                                        []byte
	disclosure                                  bool
	// orderErased: the order's data is erased (an erasure notice), so
	// the recipient's answer is not kept.
	orderErased bool
	// country and basis of the recipient, recorded with a disclosure.
	country, basis string
	// held: the order is restricted, so a disclosure waits (restrict.go).
	held bool
	// key seals the body with the order's data key when it carries
	// personal data; ids-only bodies stay plain (an erasure notice is sent
	// after the key is gone).
	key *vault.Key
	at  time.Time
}

// prepare encodes one webhook for the outbox.
func (o *Outbox) prepare(partnerID, orderID, event string, data any, sent []partners.Field) (queued, error) {
	now := o.Clock.Now()
	body, err := json.Marshal(Envelope{Type: event, Timestamp: now, Data: data})
	if err != nil {
		return queued{}, fmt.Errorf("encode webhook: %w", err)
	}
	sum := sha256.Sum256(body)
	return queued{id: NewDeliveryID(), partnerID: partnerID, orderID: orderID, event: event, hash: hex.EncodeToString(sum[:]),
		fields: partners.FieldsString(sent), body: body, disclosure: len(sent) > 0, at: now}, nil
}

// insert writes deliveries in one statement and audits each.
func (o *Outbox) insert(ctx context.Context, tx *store.Tx, actor string, qs ...queued) error {
	rows := make([]newDelivery, len(qs))
	// Each delivery continues the trace of the work that queued it.
	parent := tracing.Parent(ctx)
	for i, q := range qs {
		body := q.body
		if q.key != nil {
			// A payload about an order carries its personal data or its
			// reseller's reference: its digest is keyed by the order's data
			// key, so that it links nothing once the order is erased.
			body = q.key.Seal(q.body, payloadAAD(q.id))
			q.hash = q.key.Digest(q.body)
			qs[i].hash = q.hash
		}
		rows[i] = newDelivery{ID: q.id, PartnerID: q.partnerID, OrderID: q.orderID, Event: q.event, Payload: body,
			PayloadSHA256: q.hash, Fields: q.fields, At: q.at, OrderErased: q.orderErased, Held: q.held && q.disclosure,
			TraceParent: parent}
	}
	if err := o.rows().insert(ctx, tx, rows); err != nil {
		return fmt.Errorf("insert delivery: %w", err)
	}
	for _, q := range qs {
		details := map[string]string{"event": q.event, digestDetail(q.key != nil): q.hash}
		action := "delivery.queued"
		if q.disclosure {
			// A disclosure of personal data: record what, to whom, and why.
			action = "disclosure.queued"
			details["fields"] = q.fields
			details["legal_basis"] = LegalBasis
			details["country"], details["transfer_basis"] = q.country, q.basis
		}
		subjects := map[string]string{"order_id": q.orderID, "delivery_id": q.id, "partner_id": q.partnerID}
		if err := record(ctx, o.Audit, tx, actor, action, subjects, details); err != nil {
			return err
		}
	}
	return nil
}

// digestDetail names the audit detail of a payload's digest: payload_hmac
// when it is keyed by the order's data key, payload_sha256 for an ids-only
// payload about no order's data.
func digestDetail(keyed bool) string {
	if keyed {
		return "payload_hmac"
	}
	return "payload_sha256"
}

// NewDeliveryID returns a new time-ordered delivery id, used as webhook-id.
func NewDeliveryID() string {
	return base.NewID("msg_")
}

// payloadAAD binds a sealed payload to its delivery; bodyAAD an answer's
// body to its attempt.
func payloadAAD(deliveryID string) string { return "deliveries.payload\x00" + deliveryID }

func bodyAAD(deliveryID string, attempt int) string {
	return fmt.Sprintf("delivery_attempts.response_body\x00%s\x00%d", deliveryID, attempt)
}
