package subjects

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/store"
)

// Rectify applies a rectification (Art. 16) to every order of the person
// that is not erased, in one transaction; every recipient that received a
// changed field is sent its new value (order.updated). It returns what
// changed per order.
func (s *Service) Rectify(ctx context.Context, actor, id string, change orders.Rectification) ([]orders.Rectified, error) {
	var out []orders.Rectified
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		r, found, err := s.openWithOrders(ctx, tx, id)
		if err != nil {
			return err
		}
		if out, err = s.Orders.Rectify(ctx, tx, actor, orderIDs(found), change); err != nil {
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

// openWithOrders reads an open request and the person's orders inside tx.
func (s *Service) openWithOrders(ctx context.Context, tx *sqlx.Tx, id string) (*Request, []Order, error) {
	r, err := s.openRequest(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	found, err := s.find(ctx, tx, r.emailHash, r.phoneHash)
	return r, found, err
}

// classify decides what an erasure request does to an order now (Art. 17):
// an order under legal hold is retained for it; an order closed as
// cancelled or rejected, or closed by an operator, has no goods left to
// account for and is erased; shipped and delivered orders are retained for
// bookkeeping (Art. 17(3)(b): the Danish Bookkeeping Act keeps the
// material for five years) until their purge date; open ones wait for
// their close.
func classify(o Order) Outcome {
	out := Outcome{OrderID: o.OrderID}
	switch {
	case o.Held:
		out.Outcome, out.Reason = OutcomeRetained, "legal_hold"
	case o.Status == orders.StatusCancelled || o.Status == orders.StatusRejected || (o.OperatorClosed && o.Status.Final()):
		out.Outcome = OutcomeErased
	case o.Status == orders.StatusShipped || o.Status == orders.StatusDelivered:
		out.Outcome, out.Reason, out.Until = OutcomeRetained, "bookkeeping", o.PurgeAfter
	default:
		out.Outcome = OutcomeScheduled
	}
	return out
}

// Erase serves an erasure request: each of the person's orders is erased
// now (with order.erased notices, as in a purge), retained with the date
// and reason (and restricted meanwhile), or scheduled to be decided when
// it closes. It returns the outcome per order.
func (s *Service) Erase(ctx context.Context, actor, id string) ([]Outcome, error) {
	var out []Outcome
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		r, found, err := s.openWithOrders(ctx, tx, id)
		if err != nil {
			return err
		}
		out = make([]Outcome, 0, len(found))
		var erase, retain []string
		for _, o := range found {
			oc := classify(o)
			out = append(out, oc)
			switch oc.Outcome {
			case OutcomeErased:
				erase = append(erase, o.OrderID)
			case OutcomeRetained:
				retain = append(retain, o.OrderID)
			case OutcomeScheduled:
				if _, err := tx.ExecContext(ctx, sqlSchedule, o.OrderID, r.ID, store.FormatTime(s.now())); err != nil {
					return fmt.Errorf("schedule erasure: %w", err)
				}
			}
		}
		if err := s.erase(ctx, tx, actor, erase); err != nil {
			return err
		}
		if len(retain) > 0 {
			if _, err := s.Sharing.Restrict(ctx, tx, actor, r.ID, [][]byte{r.emailHash, r.phoneHash}, retain); err != nil {
				return err
			}
		}
		for _, oc := range out {
			details := map[string]string{"outcome": oc.Outcome, "reason": oc.Reason}
			if oc.Until != nil {
				details["until"] = store.FormatTime(*oc.Until)
			}
			if err := s.recordOrders(ctx, tx, actor, "subject.order_erasure", r.ID, []string{oc.OrderID}, details); err != nil {
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

// erase erases the orders' personal data everywhere and queues the
// notices to the recipients that received it.
func (s *Service) erase(ctx context.Context, tx *sqlx.Tx, actor string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	res, err := s.Orders.Erase(ctx, tx, actor, ids, s.now())
	if err != nil {
		return err
	}
	_, err = s.Sharing.Erase(ctx, tx, actor, res.Erased)
	return err
}

// Restrict restricts sharing of the person's data (Art. 18; an objection,
// Art. 21, does the same): deliveries carrying it wait, orders they place
// meanwhile are restricted too, and every recipient that received it is
// told (order.restricted).
func (s *Service) Restrict(ctx context.Context, actor, id string) (*Request, error) {
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		r, found, err := s.openWithOrders(ctx, tx, id)
		if err != nil {
			return err
		}
		r.Orders = found
		return s.restrict(ctx, tx, actor, r)
	})
	if err != nil {
		return nil, fmt.Errorf("restrict: %w", err)
	}
	s.Sharing.Kick()
	return s.Get(ctx, id)
}

func (s *Service) restrict(ctx context.Context, tx *sqlx.Tx, actor string, r *Request) error {
	ids := orderIDs(r.Orders)
	n, err := s.Sharing.Restrict(ctx, tx, actor, r.ID, [][]byte{r.emailHash, r.phoneHash}, ids)
	if err != nil {
		return err
	}
	if err := s.recordOrders(ctx, tx, actor, "subject.order_restricted", r.ID, ids, nil); err != nil {
		return err
	}
	return s.addStep(ctx, tx, r.ID, actor, "restricted", map[string]any{"orders": ids, "notices": n})
}

// Lift ends the restrictions the request made: held deliveries flow, and
// every recipient that received the data is told
// (order.restriction_lifted).
func (s *Service) Lift(ctx context.Context, actor, id string) (*Request, error) {
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.openRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		ids, n, err := s.Sharing.Lift(ctx, tx, actor, r.ID)
		if err != nil {
			return err
		}
		if err := s.recordOrders(ctx, tx, actor, "subject.order_restriction_lifted", r.ID, ids, nil); err != nil {
			return err
		}
		return s.addStep(ctx, tx, r.ID, actor, "lifted", map[string]any{"orders": ids, "notices": n})
	})
	if err != nil {
		return nil, fmt.Errorf("lift: %w", err)
	}
	s.Sharing.Kick()
	return s.Get(ctx, id)
}

// Sweep decides the scheduled erasures of orders that have closed since:
// erased if cancelled or rejected, retained for bookkeeping (and restricted)
// if shipped or delivered. It runs after every order change and hourly; an
// order still open waits. It returns how many it decided.
func (s *Service) Sweep(ctx context.Context, orderID string) (int, error) {
	var rows []struct {
		OrderID   string `db:"order_id"`
		RequestID string `db:"request_id"`
	}
	var err error
	if orderID != "" {
		err = s.DB.Reader.SelectContext(ctx, &rows, sqlScheduledFor, orderID)
	} else {
		err = s.DB.Reader.SelectContext(ctx, &rows, sqlScheduled, 10000)
	}
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	n := 0
	for _, row := range rows {
		decided := false
		err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
			o, err := s.Orders.GetTx(ctx, tx, row.OrderID)
			if err != nil {
				return err
			}
			held, err := s.Holds.Among(ctx, tx, []string{o.ID})
			if err != nil {
				return err
			}
			oc := classify(Order{SubjectOrder: orders.SubjectOrder{RetentionRow: orders.RetentionRow{OrderID: o.ID, Status: o.Status,
				PurgeAfter: o.PurgeAfter}, OperatorClosed: o.CloseReason != ""}, Held: held[o.ID]})
			switch {
			case o.ErasedAt != nil:
				oc = Outcome{OrderID: o.ID, Outcome: OutcomeErased}
			case oc.Outcome == OutcomeScheduled:
				return nil // still open
			case oc.Outcome == OutcomeErased:
				if err := s.erase(ctx, tx, "system:subject-erasure", []string{o.ID}); err != nil {
					return err
				}
			case oc.Outcome == OutcomeRetained:
				r, err := getRequest(ctx, tx, row.RequestID)
				if err != nil {
					return err
				}
				if _, err := s.Sharing.Restrict(ctx, tx, "system:subject-erasure", r.ID, [][]byte{r.emailHash, r.phoneHash},
					[]string{o.ID}); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, sqlUnschedule, row.OrderID, row.RequestID); err != nil {
				return fmt.Errorf("unschedule erasure: %w", err)
			}
			details := map[string]string{"outcome": oc.Outcome, "reason": oc.Reason}
			if oc.Until != nil {
				details["until"] = store.FormatTime(*oc.Until)
			}
			if err := s.recordOrders(ctx, tx, "system:subject-erasure", "subject.order_erasure", row.RequestID, []string{o.ID}, details); err != nil {
				return err
			}
			decided = true
			return s.addStep(ctx, tx, row.RequestID, "system:subject-erasure", "erasure_decided", map[string]any{"orders": []Outcome{oc}})
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

// due is when the one-month deadline of a request received at t falls
// (Art. 12(3)).
func due(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
