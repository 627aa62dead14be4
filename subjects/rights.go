package subjects

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
)

// ErrNotRestricted is returned by Lift when the request restricts nothing.
var ErrNotRestricted = api.New(409, "subject_request_not_restricted", "this request restricts no order now; there is nothing to lift")

// acting reads an open request that allows action inside tx, with its
// candidates, and settles them: it returns the request and the orders it
// covers.
func (s *Service) acting(ctx context.Context, tx *store.Tx, actor, id string, action Action) (*Request, []Order, error) {
	r, err := s.openFor(ctx, tx, id, action)
	if err != nil {
		return nil, nil, err
	}
	cands, err := s.candidates(ctx, tx, r)
	if err != nil {
		return nil, nil, err
	}
	inc, err := s.settle(ctx, tx, actor, r, cands, action)
	return r, inc, err
}

// Rectify applies a rectification (Art. 16) to every included order of
// the request that is not erased, in one transaction; every recipient that
// received a changed field is sent its new value (order.updated). It
// returns what changed per order.
func (s *Service) Rectify(ctx context.Context, actor, id string, change orders.Rectification) (_ []orders.Rectified, err error) {
	ctx, span := tracing.Start(ctx, "subjects.rectify", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	var out []orders.Rectified
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, inc, err := s.acting(ctx, tx, actor, id, ActionRectify)
		if err != nil {
			return err
		}
		if out, err = s.Orders.Rectify(ctx, tx, actor, orderIDs(inc), change); err != nil {
			return err
		}
		for _, rc := range out {
			if err := s.Audit.Record(ctx, tx, actor, "subject.order_rectified", map[string]string{"request_id": r.ID, "order_id": rc.OrderID},
				map[string]string{"changed": strings.Join(rc.Changed, ",")}); err != nil {
				return err
			}
		}
		return s.addStep(ctx, tx, r.ID, actor, "rectified", map[string]any{"orders": out})
	})
	if err != nil {
		return nil, fmt.Errorf("rectify: %w", err)
	}
	s.Sharing.Kick()
	return out, nil
}

// classify decides what an erasure does to an order at now (Art. 17). One
// rule, the retention rule's, for every way an order ends: a closed order
// (delivered, cancelled or rejected, by a recipient or an operator) is
// bookkeeping material until its purge date (Art. 17(3)(b), the Danish
// Bookkeeping Act), so it is retained until then, and restricted
// meanwhile; one past its purge date is erased now; an order under legal
// hold is retained for it; an open one is decided when it closes.
func classify(o Order, now time.Time) Outcome {
	out := Outcome{OrderID: o.OrderID}
	switch {
	case o.Erased:
		out.Outcome = OutcomeErased
	case o.Held:
		out.Outcome, out.Reason = OutcomeRetained, "legal_hold"
	case !o.Status.Final():
		out.Outcome = OutcomeScheduled
	case o.PurgeAfter != nil && !now.Before(*o.PurgeAfter):
		out.Outcome = OutcomeErased
	default:
		out.Outcome, out.Reason = OutcomeRetained, "bookkeeping"
		if o.PurgeAfter != nil {
			until := o.PurgeAfter.UTC()
			out.Until = &until
		}
	}
	return out
}

// Erase serves an erasure (or an objection's erasure): each included order
// is erased now (with order.erased notices, as in a purge), retained with
// the date and reason (and restricted meanwhile, a restriction no request
// lifts), or scheduled to be decided when it closes. It returns the
// outcome per order.
func (s *Service) Erase(ctx context.Context, actor, id string) (_ []Outcome, err error) {
	ctx, span := tracing.Start(ctx, "subjects.erase", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	var out []Outcome
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, inc, err := s.acting(ctx, tx, actor, id, ActionErase)
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		out = make([]Outcome, 0, len(inc))
		var erase, retain []string
		for _, o := range inc {
			oc := classify(o, now)
			out = append(out, oc)
			switch {
			case o.Erased:
			case oc.Outcome == OutcomeErased:
				erase = append(erase, o.OrderID)
			case oc.Outcome == OutcomeRetained:
				retain = append(retain, o.OrderID)
			case oc.Outcome == OutcomeScheduled:
				if err := s.rows().schedule(ctx, tx, o.OrderID, r.ID, now); err != nil {
					return fmt.Errorf("schedule erasure: %w", err)
				}
			}
		}
		if err := s.erase(ctx, tx, actor, erase); err != nil {
			return err
		}
		if len(retain) > 0 {
			if _, err := s.Sharing.Restrict(ctx, tx, actor, r.ID, sharing.KindRetainedErasure, nil, retain); err != nil {
				return err
			}
		}
		for _, oc := range out {
			if err := s.recordOrders(ctx, tx, actor, "subject.order_erasure", r.ID, []string{oc.OrderID}, outcomeDetails(oc)); err != nil {
				return err
			}
		}
		return s.addStep(ctx, tx, r.ID, actor, "erasure", map[string]any{"orders": out})
	})
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	s.Sharing.Kick()
	return out, nil
}

func outcomeDetails(oc Outcome) map[string]string {
	details := map[string]string{"outcome": oc.Outcome, "reason": oc.Reason}
	if oc.Until != nil {
		details["until"] = store.FormatTime(*oc.Until)
	}
	return details
}

// erase erases the orders' personal data everywhere and queues the
// notices to the recipients that received it.
func (s *Service) erase(ctx context.Context, tx *store.Tx, actor string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	res, err := s.Orders.Erase(ctx, tx, actor, ids, s.Clock.Now())
	if err != nil {
		return err
	}
	_, err = s.Sharing.Erase(ctx, tx, actor, res.Erased)
	return err
}

// Restrict restricts sharing of the person's data (Art. 18): deliveries
// carrying it wait, any order placed meanwhile with one of the person's
// identifiers is held for review, and every recipient that received it is
// told (order.restricted).
func (s *Service) Restrict(ctx context.Context, actor, id string) (_ *Request, err error) {
	ctx, span := tracing.Start(ctx, "subjects.restrict", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, inc, err := s.acting(ctx, tx, actor, id, ActionRestrict)
		if err != nil {
			return err
		}
		return s.restrict(ctx, tx, actor, r, inc)
	})
	if err != nil {
		return nil, fmt.Errorf("restrict: %w", err)
	}
	s.Sharing.Kick()
	return s.Get(ctx, id)
}

// restrict restricts the included orders inc of r. The restriction binds
// to the person, not to what was typed into the request: every identifier
// the request was given and every one on an included order (a rectified
// one too, see sharing's rectified) holds a new order.
func (s *Service) restrict(ctx context.Context, tx *store.Tx, actor string, r *Request, inc []Order) error {
	hashes := []sharing.Hashed{{Hash: r.emailHash, Version: r.lookupVersion}, {Hash: r.phoneHash, Version: r.lookupVersion}}
	for _, o := range inc {
		hashes = append(hashes, sharing.Hashed{Hash: o.EmailHash, Version: o.LookupVersion}, sharing.Hashed{Hash: o.PhoneHash, Version: o.LookupVersion})
	}
	ids := orderIDs(inc)
	n, err := s.Sharing.Restrict(ctx, tx, actor, r.ID, sharing.KindRestriction, hashes, ids)
	if err != nil {
		return err
	}
	if err := s.recordOrders(ctx, tx, actor, "subject.order_restricted", r.ID, ids, nil); err != nil {
		return err
	}
	return s.addStep(ctx, tx, r.ID, actor, "restricted", map[string]any{"orders": ids, "notices": n})
}

// Lifting is the DPO's decision to end a restriction: why (for an
// objection, the compelling legitimate grounds that override the person's
// interests, Art. 21(1)), and when the person was told, which must be
// before it ends (Art. 18(3)).
type Lifting struct {
	Reason       string    `json:"reason"`
	PersonToldAt time.Time `json:"person_told_at"`
}

// ParseLifting decodes and validates the body of …/lift against now.
func ParseLifting(body []byte, now time.Time) (Lifting, error) {
	var in struct {
		Reason       string `json:"reason"`
		PersonToldAt string `json:"person_told_at"`
	}
	if err := api.Decode(body, &in); err != nil {
		return Lifting{}, err
	}
	l := Lifting{Reason: in.Reason}
	var bad []api.FieldError
	if in.PersonToldAt != "" {
		t, err := ParseWhen(in.PersonToldAt, time.UTC)
		if err != nil {
			bad = append(bad, api.FieldError{Pointer: "/person_told_at", Code: "invalid_time", Detail: "must be an RFC 3339 time or a date"})
		}
		l.PersonToldAt = t
	}
	if bad = append(bad, l.check(now)...); len(bad) > 0 {
		return Lifting{}, api.Invalid(bad)
	}
	return l, nil
}

func (l Lifting) check(now time.Time) []api.FieldError {
	bad := checkReason(l.Reason, "/reason")
	switch {
	case l.PersonToldAt.IsZero():
		bad = append(bad, api.FieldError{Pointer: "/person_told_at", Code: "required",
			Detail: "tell the person before the restriction is lifted (Art. 18(3)) and say when"})
	case l.PersonToldAt.After(now):
		bad = append(bad, api.FieldError{Pointer: "/person_told_at", Code: "in_future", Detail: "must not be in the future"})
	}
	return bad
}

// ParseWhen reads an RFC 3339 time, or a date (the start of that day in loc).
func ParseWhen(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	return t.UTC(), err
}

// Lift ends the restrictions the request made: held deliveries flow, and
// every recipient that received the data is told
// (order.restriction_lifted). A restriction that keeps a retained erasure
// is never lifted (409).
func (s *Service) Lift(ctx context.Context, actor, id string, l Lifting) (_ *Request, err error) {
	ctx, span := tracing.Start(ctx, "subjects.lift", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	if bad := l.check(s.Clock.Now()); len(bad) > 0 {
		return nil, api.Invalid(bad)
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.openFor(ctx, tx, id, ActionLift)
		if err != nil {
			return err
		}
		ids, n, err := s.Sharing.Lift(ctx, tx, actor, r.ID)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return ErrNotRestricted
		}
		told := store.FormatTime(l.PersonToldAt)
		if err := s.recordOrders(ctx, tx, actor, "subject.order_restriction_lifted", r.ID, ids,
			map[string]string{"person_told_at": told}); err != nil {
			return err
		}
		return s.addStep(ctx, tx, r.ID, actor, "lifted", map[string]any{"orders": ids, "notices": n,
			"reason": strings.TrimSpace(l.Reason), "person_told_at": told})
	})
	if err != nil {
		return nil, fmt.Errorf("lift: %w", err)
	}
	s.Sharing.Kick()
	return s.Get(ctx, id)
}

// Sweep decides the scheduled erasures of orders that have closed since,
// by classify: retained for bookkeeping (and restricted) until the purge
// date, or erased if that has passed. It runs after every order change
// and hourly; an order still open waits. It returns how many it decided.
func (s *Service) Sweep(ctx context.Context, orderID string) (int, error) {
	rows, err := s.rows().scheduled(ctx, orderID, 10000)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	const actor = "system:subject-erasure"
	n := 0
	for _, row := range rows {
		decided := false
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			o, err := s.Orders.GetTx(ctx, tx, row.OrderID)
			if err != nil {
				return err
			}
			held, err := s.Holds.Among(ctx, tx, []string{o.ID})
			if err != nil {
				return err
			}
			oc := classify(Order{SubjectOrder: orders.SubjectOrder{RetentionRow: orders.RetentionRow{OrderID: o.ID, Status: o.Status,
				PurgeAfter: o.PurgeAfter}, Erased: o.ErasedAt != nil}, Held: held[o.ID]}, s.Clock.Now())
			switch {
			case o.ErasedAt != nil:
			case oc.Outcome == OutcomeScheduled:
				return nil // still open
			case oc.Outcome == OutcomeErased:
				if err := s.erase(ctx, tx, actor, []string{o.ID}); err != nil {
					return err
				}
			case oc.Outcome == OutcomeRetained:
				if _, err := s.Sharing.Restrict(ctx, tx, actor, row.RequestID, sharing.KindRetainedErasure, nil, []string{o.ID}); err != nil {
					return err
				}
			}
			if err := s.rows().unschedule(ctx, tx, row.OrderID, row.RequestID); err != nil {
				return fmt.Errorf("unschedule erasure: %w", err)
			}
			if err := s.recordOrders(ctx, tx, actor, "subject.order_erasure", row.RequestID, []string{o.ID}, outcomeDetails(oc)); err != nil {
				return err
			}
			decided = true
			return s.addStep(ctx, tx, row.RequestID, actor, "erasure_decided", map[string]any{"orders": []Outcome{oc}})
		})
		if err != nil {
			return n, fmt.Errorf("sweep scheduled erasures: %w", err)
		}
		if decided {
			n++
		}
	}
	if n > 0 {
		s.Sharing.Kick()
	}
	return n, nil
}
