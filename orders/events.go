package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Event is one entry of an order's timeline: what happened, who said so,
// and what it did to the order.
type Event struct {
	ID        int64             `json:"id" db:"id"`
	OrderID   string            `json:"order_id" db:"order_id"`
	Time      time.Time         `json:"time" db:"-"`
	Type      string            `json:"type" db:"type"`
	Source    string            `json:"source" db:"source"`
	PartnerID string            `json:"partner_id,omitempty" db:"-"`
	From      Status            `json:"from_status,omitempty" db:"-"`
	To        Status            `json:"to_status,omitempty" db:"-"`
	Outcome   string            `json:"outcome" db:"outcome"`
	Details   map[string]string `json:"details,omitempty" db:"-"`

	key *vault.Key // seals the details (a recipient's free text, tracking)
}

type eventRow struct {
	Event
	T         store.Time `db:"time"`
	PartnerID string     `db:"partner_id"`
	From      string     `db:"from_status"`
	To        string     `db:"to_status"`
	Details   string     `db:"details"`
}

// event returns the row as an event, its details opened with k, or why
// they do not open.
func (r eventRow) event(k *vault.Key) (Event, error) {
	e := r.Event
	e.Time, e.PartnerID, e.From, e.To = r.T.Time, r.PartnerID, Status(r.From), Status(r.To)
	if r.Details == "{}" {
		return e, nil
	}
	op := &opener{k: k}
	_ = json.Unmarshal([]byte(op.text(r.Details, eventAAD(r.Type, r.PartnerID))), &e.Details)
	if op.err != nil {
		return Event{}, errOpen(r.OrderID, op.err)
	}
	return e, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func insertEvent(ctx context.Context, tx *store.Tx, e Event) error { return insertEvents(ctx, tx, e) }

// insertEvents appends events to their orders' timelines, many rows per
// statement.
func insertEvents(ctx context.Context, tx *store.Tx, events ...Event) error {
	rows := make([]eventParams, len(events))
	for i, e := range events {
		var details any = "{}"
		if len(e.Details) > 0 {
			b, _ := json.Marshal(e.Details)
			details = seal(e.key, string(b), eventAAD(e.Type, e.PartnerID))
		}
		rows[i] = eventParams{OrderID: e.OrderID, Time: e.Time, Type: e.Type, Source: e.Source, PartnerID: e.PartnerID,
			From: string(e.From), To: string(e.To), Outcome: e.Outcome, Details: details}
	}
	if err := (orderRows{}).insertEvents(ctx, tx, rows); err != nil {
		return fmt.Errorf("insert order event: %w", err)
	}
	return nil
}

// Events returns the reseller's order's timeline, oldest first. Another
// reseller's order is ErrNotFound.
func (s *Service) Events(ctx context.Context, resellerID, orderID string) ([]Event, error) {
	o, err := s.Get(ctx, resellerID, orderID)
	if err != nil {
		return nil, err
	}
	rows, err := s.rows().events(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("order events: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		if out[i], err = r.event(o.key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Conflicts returns a page of recipient events that contradicted the order
// (shipped or delivered after it was cancelled or rejected), newest first,
// at most limit of them before event id before (0: from the newest). They
// hold recipients' free text, so reading them is recorded as order.viewed,
// once per order on the page, in the same transaction as the read.
func (s *Service) Conflicts(ctx context.Context, actor string, before int64, limit int) ([]Event, error) {
	var out []Event
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		rows, err := s.rows().conflicts(ctx, tx, before, limit)
		if err != nil {
			return fmt.Errorf("conflicts: %w", err)
		}
		var ids []string
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.OrderID] {
				seen[r.OrderID] = true
				ids = append(ids, r.OrderID)
			}
		}
		keys, err := s.keys(ctx, tx, ids)
		if err != nil {
			return err
		}
		out = make([]Event, len(rows))
		for i, r := range rows {
			if out[i], err = r.event(keys[r.OrderID]); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if err := s.record(ctx, tx, actor, "order.viewed", map[string]string{"order_id": id}, map[string]string{"route": "conflicts"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("conflicts: %w", err)
	}
	return out, nil
}
