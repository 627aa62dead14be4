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

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/store"
)

// CloseRequest closes an order that never reached a final state (the purge
// report lists such orders as stale): an operator decides whether the
// goods were delivered or the order is cancelled, and when.
type CloseRequest struct {
	As     Status    // delivered or cancelled
	At     time.Time // when it reached that state; zero means now
	Reason string    // why, kept with the order and erased with it
}

// ErrAlreadyClosed is returned for an order that reached a final state.
var ErrAlreadyClosed = api.New(http.StatusConflict, "already_closed", "the order has already reached a final state")

const maxCloseReason = 500

// checkClose validates a close request against the order and now, every
// problem at once; pointers name the HTTP body's fields.
func checkClose(req CloseRequest, created, now time.Time) error {
	var bad []api.FieldError
	if req.As != StatusDelivered && req.As != StatusCancelled {
		bad = append(bad, api.FieldError{Pointer: "/as", Code: "invalid_status", Detail: "must be delivered or cancelled"})
	}
	switch {
	case req.At.After(now):
		bad = append(bad, api.FieldError{Pointer: "/at", Code: "in_future", Detail: "must not be in the future"})
	case req.At.Before(created):
		bad = append(bad, api.FieldError{Pointer: "/at", Code: "before_created", Detail: "must not be before the order was created"})
	}
	r := strings.TrimSpace(req.Reason)
	switch {
	case r == "" || utf8.RuneCountInString(r) > maxCloseReason:
		bad = append(bad, api.FieldError{Pointer: "/reason", Code: "invalid_reason", Detail: fmt.Sprintf("a reason of 1 to %d characters is required", maxCloseReason)})
	case api.CheckText(r, true) != "":
		bad = append(bad, api.FieldError{Pointer: "/reason", Code: "invalid_characters", Detail: api.CheckText(r, true)})
	}
	if len(bad) > 0 {
		return api.Invalid(bad)
	}
	return nil
}

// Close moves an order that never reached a final state to delivered or
// cancelled as of req.At, which the retention clock then counts from. The
// reason stays with the order (it is free text and may name people) and
// only its SHA-256 enters the audit trail. Closing as cancelled tells every
// recipient that received the order (order.cancelled), as a reseller's
// cancel does. It fails with ErrNotFound, ErrAlreadyClosed, or a 422 for an
// invalid request.
func (s *Service) Close(ctx context.Context, actor, id string, req CloseRequest) (*Order, error) {
	now := s.Clock.Now()
	if req.At.IsZero() {
		req.At = now
	}
	req.At = req.At.UTC().Truncate(time.Microsecond)
	var out *Order
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		o, err := s.getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Status.Final() || o.ErasedAt != nil {
			return ErrAlreadyClosed
		}
		if err := checkClose(req, o.CreatedAt, now); err != nil {
			return err
		}
		reason := strings.TrimSpace(req.Reason)
		from := o.Status
		o.Status, o.UpdatedAt, o.ClosedAt, o.CloseReason = req.As, now, &req.At, reason
		s.dates(o)
		if err := s.rows().close(ctx, tx, closeParams{ID: id, Status: o.Status, UpdatedAt: now, ClosedAt: req.At,
			Reason: seal(o.key, reason, aadCloseReason)}); err != nil {
			return fmt.Errorf("close order: %w", err)
		}
		if err := insertEvent(ctx, tx, Event{OrderID: id, Time: now, Type: "order.closed", Source: actor,
			From: from, To: o.Status, Outcome: string(Applied)}); err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(reason))
		if err := s.record(ctx, tx, actor, "order.closed", map[string]string{"order_id": id}, map[string]string{
			"from": string(from), "to": string(o.Status), "reason_sha256": hex.EncodeToString(sum[:]),
			"as_of": store.FormatTime(req.At)}); err != nil {
			return err
		}
		kind := ChangeStatus
		if o.Status == StatusCancelled {
			kind = ChangeCancelled
		}
		out = o
		return s.emit(ctx, tx, Change{Kind: kind, Order: o, From: from, Actor: actor})
	})
	if err != nil {
		return nil, fmt.Errorf("close order: %w", err)
	}
	if s.AfterCommit != nil {
		s.AfterCommit(Change{Kind: ChangeStatus, Order: out, Actor: actor})
	}
	return out, nil
}
