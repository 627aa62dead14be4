package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
)

// Callback event types recipients send.
const (
	CallbackAccepted         = "order.accepted"
	CallbackRejected         = "order.rejected"
	CallbackShipped          = "order.shipped"
	CallbackDelivered        = "order.delivered"
	CallbackErasureConfirmed = "order.erasure_confirmed"
)

// callbackTarget is the order state each status callback asks for.
var callbackTarget = map[string]Status{
	CallbackAccepted: StatusAccepted, CallbackRejected: StatusRejected,
	CallbackShipped: StatusShipped, CallbackDelivered: StatusDelivered,
}

// Callback is a recipient's signed report about an order.
type Callback struct {
	Type              string
	OrderID           string
	EstimatedShipDate string
	ReasonCode        string
	Message           string
	Carrier           string
	TrackingNumber    string
	TrackingURL       string
	DeliveredAt       time.Time
}

var reasonCode = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// DecodeCallback parses and validates a callback body: the envelope of
// DESIGN.md ({"type", "timestamp", "data": {"order_id", …}}). Unknown event
// types and invalid fields are a 422 with a pointer for each; fields the
// service does not know are ignored, so partners can add their own.
func DecodeCallback(body []byte) (Callback, error) {
	raw, dups, err := parseJSON(body)
	if err != nil {
		return Callback{}, err
	}
	v := &validator{errs: dups}
	top, ok := raw.(map[string]any)
	if !ok {
		return Callback{}, api.Invalid([]api.FieldError{{Pointer: "", Code: "type", Detail: "must be an object"}})
	}
	cb := Callback{Type: v.text(top, "type", "/type", true, 64, false)}
	_, isStatus := callbackTarget[cb.Type]
	if cb.Type != "" && !isStatus && cb.Type != CallbackErasureConfirmed {
		v.add("/type", "unknown_event_type", "must be order.accepted, order.rejected, order.shipped, order.delivered or order.erasure_confirmed")
	}
	data, ok := top["data"].(map[string]any)
	if !ok {
		v.add("/data", "required", "is required and must be an object")
		return Callback{}, api.Invalid(v.errs)
	}
	cb.OrderID = v.text(data, "order_id", "/data/order_id", true, 64, false)
	switch cb.Type {
	case CallbackAccepted:
		if d := v.text(data, "estimated_ship_date", "/data/estimated_ship_date", false, 10, false); d != "" {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				v.add("/data/estimated_ship_date", "invalid_date", "must be a date such as 2026-12-01")
			} else {
				cb.EstimatedShipDate = d
			}
		}
	case CallbackRejected:
		cb.ReasonCode = v.text(data, "reason_code", "/data/reason_code", true, 40, false)
		if cb.ReasonCode != "" && !reasonCode.MatchString(cb.ReasonCode) {
			v.add("/data/reason_code", "invalid_reason_code", "must be a lowercase code such as out_of_stock")
		}
		cb.Message = v.text(data, "message", "/data/message", false, 500, true)
	case CallbackShipped:
		cb.Carrier = v.text(data, "carrier", "/data/carrier", true, 100, false)
		cb.TrackingNumber = v.text(data, "tracking_number", "/data/tracking_number", true, 100, false)
		if u := v.text(data, "tracking_url", "/data/tracking_url", false, 500, false); u != "" {
			if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
				v.add("/data/tracking_url", "invalid_url", "must be an https URL")
			} else {
				cb.TrackingURL = u
			}
		}
	case CallbackDelivered:
		if d := v.text(data, "delivered_at", "/data/delivered_at", false, 40, false); d != "" {
			t, err := time.Parse(time.RFC3339, d)
			if err != nil {
				v.add("/data/delivered_at", "invalid_time", "must be an RFC 3339 time")
			}
			cb.DeliveredAt = t.UTC()
		}
	}
	if len(v.errs) > 0 {
		return Callback{}, api.Invalid(v.errs)
	}
	return cb, nil
}

// CallbackResult is the answer to a callback, stored so that a repeat of
// the same webhook-id gets the same answer.
type CallbackResult struct {
	Status int
	Body   []byte
}

// callbackAck is the body of an accepted callback. It holds no personal data.
type callbackAck struct {
	Outcome     Outcome `json:"outcome"`
	OrderID     string  `json:"order_id"`
	OrderStatus Status  `json:"order_status"`
}

// ApplyCallback applies a verified callback from a recipient, once per
// webhook-id: a repeat returns the first answer and changes nothing. The
// order moves only forward; late events are recorded and ignored, events
// that contradict a cancelled or rejected order are recorded as conflicts,
// and impossible ones get 409. An order the partner was never sent is 404.
// Every callback lands in the timeline and the audit trail.
func (s *Service) ApplyCallback(ctx context.Context, partnerID, webhookID string, cb Callback) (_ CallbackResult, err error) {
	ctx, span := tracing.Start(ctx, "callback.apply", trace.SpanKindInternal, attribute.String("husky.partner_id", partnerID),
		attribute.String("husky.callback_type", string(cb.Type)))
	defer func() { tracing.End(span, err) }()
	var res CallbackResult
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		switch prev, ok, err := s.rows().receipt(ctx, tx, partnerID, webhookID); {
		case err != nil:
			return fmt.Errorf("read callback receipt: %w", err)
		case ok:
			res = CallbackResult{Status: prev.Status, Body: prev.Body}
			return nil
		}
		r, err := s.applyCallback(ctx, tx, partnerID, webhookID, cb)
		if err != nil {
			return err
		}
		res = r
		if err := s.rows().insertReceipt(ctx, tx, receiptParams{PartnerID: partnerID, WebhookID: webhookID,
			ReceivedAt: s.Clock.Now(), EventType: cb.Type, OrderID: cb.OrderID, Status: res.Status, Body: res.Body}); err != nil {
			return fmt.Errorf("store callback receipt: %w", err)
		}
		return nil
	})
	if err != nil {
		return CallbackResult{}, fmt.Errorf("apply callback: %w", err)
	}
	if s.AfterCommit != nil {
		s.AfterCommit(Change{Kind: ChangeStatus, Order: &Order{ID: cb.OrderID}})
	}
	return res, nil
}

func problemResult(err *api.Error) CallbackResult {
	b, _ := json.Marshal(api.From(err))
	return CallbackResult{Status: err.Status, Body: b}
}

func (s *Service) applyCallback(ctx context.Context, tx *store.Tx, partnerID, webhookID string, cb Callback) (CallbackResult, error) {
	now := s.Clock.Now()
	actor := "partner:" + partnerID
	subjects := map[string]string{"order_id": cb.OrderID, "partner_id": partnerID}
	details := map[string]string{"event": cb.Type, "callback_id": webhookID}
	shared := false
	if s.SharedWith != nil {
		var err error
		if shared, err = s.SharedWith(ctx, tx, cb.OrderID, partnerID); err != nil {
			return CallbackResult{}, err
		}
	}
	if !shared {
		details["outcome"] = "refused"
		delete(subjects, "order_id") // it may not even be an order id
		if err := s.record(ctx, tx, actor, "callback.refused", subjects, details); err != nil {
			return CallbackResult{}, err
		}
		return problemResult(api.New(http.StatusNotFound, "order_not_shared", "this partner was never sent that order")), nil
	}
	o, err := s.getOrder(ctx, tx, cb.OrderID)
	if err != nil {
		return CallbackResult{}, err
	}
	if o.ErasedAt != nil {
		// The order's personal data is gone, and nothing the recipient
		// writes about it now (a free-text message, tracking, dates) may
		// bring any back: only the type is kept, and the outcome.
		cb = Callback{Type: cb.Type, OrderID: cb.OrderID}
	}
	ev := Event{OrderID: o.ID, Time: now, Type: cb.Type, Source: actor, PartnerID: partnerID, From: o.Status, key: o.key}

	if cb.Type == CallbackErasureConfirmed {
		// Art. 19: a confirmation answers the notice this service sent; one
		// that answers none (the order is not erased, or this recipient was
		// never told) is refused, so that the evidence of a purge run only
		// ever counts answers to notices.
		sent := false
		if s.ErasureNoticeSent != nil {
			if sent, err = s.ErasureNoticeSent(ctx, tx, o.ID, partnerID); err != nil {
				return CallbackResult{}, err
			}
		}
		if !sent {
			ev.Outcome = "refused"
			details["outcome"] = "refused"
			if err := insertEvent(ctx, tx, ev); err != nil {
				return CallbackResult{}, err
			}
			if err := s.record(ctx, tx, actor, "callback.refused", subjects, details); err != nil {
				return CallbackResult{}, err
			}
			return problemResult(api.New(http.StatusConflict, "no_erasure_notice",
				"this partner was sent no erasure notice for that order; confirm an erasure after its order.erased")), nil
		}
		if err := s.rows().confirmErasure(ctx, tx, o.ID, partnerID, now); err != nil {
			return CallbackResult{}, fmt.Errorf("record erasure confirmation: %w", err)
		}
		ev.Outcome = string(Applied)
		details["outcome"] = string(Applied)
		if err := insertEvent(ctx, tx, ev); err != nil {
			return CallbackResult{}, err
		}
		if err := s.record(ctx, tx, actor, "callback.erasure_confirmed", subjects, details); err != nil {
			return CallbackResult{}, err
		}
		return ackResult(Applied, o), nil
	}

	target := callbackTarget[cb.Type]
	outcome := Decide(o.Status, target)
	ev.To = target
	details["from"], details["to"], details["outcome"] = string(o.Status), string(target), string(outcome)
	if outcome == Illegal {
		ev.Outcome = "refused"
		if err := insertEvent(ctx, tx, ev); err != nil {
			return CallbackResult{}, err
		}
		if err := s.record(ctx, tx, actor, "callback.refused", subjects, details); err != nil {
			return CallbackResult{}, err
		}
		return problemResult(api.New(http.StatusConflict, "illegal_transition",
			"an order that is %s cannot become %s", o.Status, target)), nil
	}
	if err := s.saveAnswer(ctx, tx, o, partnerID, target, cb, now); err != nil {
		return CallbackResult{}, err
	}
	ev.Outcome = string(outcome)
	if cb.Carrier != "" {
		ev.Details = map[string]string{"carrier": cb.Carrier, "tracking_number": cb.TrackingNumber, "tracking_url": cb.TrackingURL}
	}
	if cb.ReasonCode != "" {
		ev.Details = map[string]string{"reason_code": cb.ReasonCode, "message": cb.Message}
	}
	if err := insertEvent(ctx, tx, ev); err != nil {
		return CallbackResult{}, err
	}
	if err := s.record(ctx, tx, actor, "callback."+string(outcome), subjects, details); err != nil {
		return CallbackResult{}, err
	}
	if outcome == Applied {
		if err := s.transition(ctx, tx, o, target, actor, now); err != nil {
			return CallbackResult{}, err
		}
	}
	return ackResult(outcome, o), nil
}

// saveAnswer keeps the recipient's furthest answer: a late answer from the
// same recipient does not overwrite a later one.
func (s *Service) saveAnswer(ctx context.Context, tx *store.Tx, o *Order, partnerID string, st Status, cb Callback, now time.Time) error {
	orderID, k := o.ID, o.key
	cur, err := s.rows().answerStatus(ctx, tx, orderID, partnerID)
	if err != nil {
		return fmt.Errorf("read recipient answer: %w", err)
	}
	if cur != "" && Decide(Status(cur), st) != Applied {
		return nil
	}
	delivered := store.Time{}
	if cb.Type == CallbackDelivered {
		delivered.Time = cb.DeliveredAt
		if delivered.IsZero() {
			delivered.Time = now
		}
	}
	sealed := func(v, aad string) any {
		if v == "" {
			return nil
		}
		return seal(k, v, aad)
	}
	if err := s.rows().saveAnswer(ctx, tx, answerParams{OrderID: orderID, PartnerID: partnerID, Status: st,
		EstimatedShipDate: cb.EstimatedShipDate, ReasonCode: cb.ReasonCode,
		Message: sealed(cb.Message, answerAAD(aadMessage, partnerID)), Carrier: sealed(cb.Carrier, answerAAD(aadCarrier, partnerID)),
		TrackingNumber: sealed(cb.TrackingNumber, answerAAD(aadTracking, partnerID)),
		TrackingURL:    sealed(cb.TrackingURL, answerAAD(aadTrackingURL, partnerID)),
		DeliveredAt:    delivered, UpdatedAt: now}); err != nil {
		return fmt.Errorf("save recipient answer: %w", err)
	}
	return nil
}

func ackResult(outcome Outcome, o *Order) CallbackResult {
	b, _ := json.Marshal(callbackAck{Outcome: outcome, OrderID: o.ID, OrderStatus: o.Status})
	return CallbackResult{Status: http.StatusOK, Body: b}
}

// transition moves o to st inside tx, records it, and runs the hooks
// (the reseller's webhook).
func (s *Service) transition(ctx context.Context, tx *store.Tx, o *Order, st Status, actor string, now time.Time) error {
	from := o.Status
	if err := s.setStatus(ctx, tx, o, st, now); err != nil {
		return err
	}
	return s.announce(ctx, tx, o, from, actor)
}

// announce records that o moved from from to its status and runs the
// hooks (the reseller's webhook).
func (s *Service) announce(ctx context.Context, tx *store.Tx, o *Order, from Status, actor string) error {
	if err := s.record(ctx, tx, actor, "order.status_changed", map[string]string{"order_id": o.ID},
		map[string]string{"from": string(from), "to": string(o.Status)}); err != nil {
		return err
	}
	return s.emit(ctx, tx, Change{Kind: ChangeStatus, Order: o, From: from, Actor: actor})
}

// MarkShared moves orders from received to shared once every recipient
// has their data, in a transaction of its own (a group commit's, under
// load): the dispatcher calls it after it has recorded the last of their
// order.created deliveries, and the start's reconciliation for any a crash
// left between the two. An order in any other state is left alone.
func (s *Service) MarkShared(ctx context.Context, orderIDs []string) error {
	if len(orderIDs) == 0 {
		return nil
	}
	write := s.DB.Tx
	if s.Batch != nil {
		write = s.Batch.Do
	}
	err := write(ctx, func(tx *store.Tx) error { return s.markShared(ctx, tx, orderIDs) })
	if err != nil {
		return err
	}
	if s.AfterCommit != nil {
		s.AfterCommit(Change{Kind: ChangeStatus})
	}
	return nil
}

// Received returns up to limit orders still "received", after the id
// cursor: those whose sharing may have completed unnoticed.
func (s *Service) Received(ctx context.Context, after string, limit int) ([]string, error) {
	ids, err := s.rows().received(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("received orders: %w", err)
	}
	return ids, nil
}

// markShared moves the orders inside tx: they are read and moved together.
// It reads no customer or address data: the orders it hands to the change
// hooks carry only their reference (for the reseller's own webhook) and
// state.
func (s *Service) markShared(ctx context.Context, tx *store.Tx, orderIDs []string) error {
	if len(orderIDs) == 0 {
		return nil
	}
	// Orders without the customer, address and notes columns: only their
	// state is needed.
	rows, err := s.rows().statesForUpdate(ctx, tx, orderIDs)
	if err != nil {
		return fmt.Errorf("mark shared: %w", err)
	}
	var due []orderRow
	for _, r := range rows {
		if Decide(Status(r.Status), StatusShared) == Applied {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return nil
	}
	// The reseller's status webhook carries its reference, which is sealed.
	move, err := s.orders(ctx, tx, due)
	if err != nil {
		return err
	}
	ids := make([]string, len(move))
	for i, o := range move {
		ids[i] = o.ID
	}
	if err := s.loadItems(ctx, tx, move); err != nil {
		return err
	}
	if err := s.loadAnswers(ctx, tx, move); err != nil {
		return err
	}
	now := s.Clock.Now()
	// A move to a state that is not final leaves the retention columns.
	if err := s.rows().moveNotFinal(ctx, tx, StatusShared, now, ids); err != nil {
		return fmt.Errorf("mark shared: %w", err)
	}
	events := make([]Event, len(move))
	for i, o := range move {
		events[i] = Event{OrderID: o.ID, Time: now, Type: "order.shared", Source: "system:dispatcher",
			From: o.Status, To: StatusShared, Outcome: string(Applied)}
	}
	if err := insertEvents(ctx, tx, events...); err != nil {
		return err
	}
	for _, o := range move {
		from := o.Status
		o.Status, o.UpdatedAt = StatusShared, now
		if err := s.announce(ctx, tx, o, from, "system:dispatcher"); err != nil {
			return err
		}
	}
	return nil
}
