package breaches

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/subjects"
)

// Orders is what the register needs of the orders package: what each
// order held and when it was erased, and the live order itself for a
// letter to its person.
type Orders interface {
	Holdings(ctx context.Context, partnerID string, from, to time.Time, fn func(orders.Holding) error) error
	GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (*orders.Order, error)
}

// Disclosures is what the register needs of the outbox: what a recipient
// received, or may have.
type Disclosures interface {
	HeldBy(ctx context.Context, partnerID string, until time.Time, fn func(orderID, fields string, imported bool) error) error
}

// Partners names the recipients.
type Partners interface {
	List(ctx context.Context) ([]partners.Partner, error)
}

// Service keeps the register.
type Service struct {
	DB          *store.DB
	Orders      Orders
	Disclosures Disclosures
	Partners    Partners
	Audit       audit.Recorder
	Clock       base.Clock
	// Controller is who notifies, and the DPO's contact (Art. 33(3)(b)),
	// as configured.
	Controller subjects.Controller
}

// Open records a breach and computes its impact. It fails with a 422
// problem naming every bad field.
func (s *Service) Open(ctx context.Context, actor string, n NewBreach) (*Breach, error) {
	now := s.Clock.Now()
	names, err := s.recipientNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("open breach: %w", err)
	}
	o, bad := n.check(now, func(id string) bool { p, ok := names[id]; return ok && p.Kind.IsRecipient() })
	if len(bad) > 0 {
		return nil, api.Invalid(bad)
	}
	id := newBreachID()
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().insert(ctx, tx, id, actor, o, now); err != nil {
			return err
		}
		return s.Audit.Record(ctx, tx, actor, "breach.recorded", nil, map[string]string{"breach_id": id, "scope": string(o.scope),
			"recipients": strings.Join(o.recipients, ","), "from": store.FormatTime(o.from), "to": store.FormatTime(o.to),
			"aware_at": store.FormatTime(o.aware)})
	})
	if err != nil {
		return nil, fmt.Errorf("open breach: %w", err)
	}
	return s.Recompute(ctx, actor, id)
}

// Get reads a breach, or api.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Breach, error) {
	row, ok, err := s.rows().get(ctx, s.DB.Reader, id)
	switch {
	case err != nil:
		return nil, fmt.Errorf("get breach: %w", err)
	case !ok:
		return nil, api.ErrNotFound
	}
	return s.fromRow(row)
}

// List reads the register, the latest awareness first.
func (s *Service) List(ctx context.Context, limit int) ([]*Breach, error) {
	rows, err := s.rows().list(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list breaches: %w", err)
	}
	out := make([]*Breach, 0, len(rows))
	for _, r := range rows {
		b, err := s.fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (s *Service) fromRow(r breachRow) (*Breach, error) {
	b := &Breach{ID: r.ID, Scope: Scope(r.Scope), WindowFrom: r.WindowFrom.Time, WindowTo: r.WindowTo.Time, AwareAt: r.AwareAt.Time,
		Description: r.Description, Consequences: r.Consequences, Measures: r.Measures, OpenedBy: r.OpenedBy, OpenedAt: r.OpenedAt.Time,
		LateReason: r.LateReason, HighRisk: r.HighRisk, RiskReason: r.RiskReason, Advice: r.Advice}
	if r.Partners != "" {
		b.Recipients = strings.Split(r.Partners, ",")
	}
	if !r.NotifiedAt.IsZero() {
		t := r.NotifiedAt.Time
		b.NotifiedAt = &t
	}
	if r.Impact != "" {
		b.Impact = &Impact{}
		if err := json.Unmarshal([]byte(r.Impact), b.Impact); err != nil {
			return nil, fmt.Errorf("breach %s: impact: %w", r.ID, err)
		}
	}
	b.present(s.Clock.Now())
	return b, nil
}

// Recompute works the breach's impact out again from the records as they
// are now (a recipient may have acknowledged erasures since) and stores
// it, as figures.
func (s *Service) Recompute(ctx context.Context, actor, id string) (*Breach, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	im, err := s.compute(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("breach impact: %w", err)
	}
	body, err := json.Marshal(im)
	if err != nil {
		return nil, err
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().setImpact(ctx, tx, id, string(body), im.ComputedAt); err != nil {
			return err
		}
		return s.Audit.Record(ctx, tx, actor, "breach.impact_computed", nil, map[string]string{"breach_id": id,
			"orders": strconv.Itoa(im.Orders), "persons": strconv.Itoa(im.Persons), "count": strconv.Itoa(im.StillHeld)})
	})
	if err != nil {
		return nil, fmt.Errorf("breach impact: %w", err)
	}
	b.Impact = im
	return b, nil
}

// Notified records that the supervisory authority was notified. Past the
// 72 hours a reason is required (Art. 33(1)).
func (s *Service) Notified(ctx context.Context, actor, id string, n Notification) (*Breach, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var bad []api.FieldError
	at := now
	if n.NotifiedAt != "" {
		t, err := time.Parse(time.RFC3339, n.NotifiedAt)
		switch {
		case err != nil:
			bad = append(bad, api.FieldError{Pointer: "/notified_at", Code: "invalid_time", Detail: "must be an RFC 3339 time"})
		case t.After(now):
			bad = append(bad, api.FieldError{Pointer: "/notified_at", Code: "in_future", Detail: "must not be in the future"})
		case t.Before(b.AwareAt):
			bad = append(bad, api.FieldError{Pointer: "/notified_at", Code: "before_aware", Detail: "must not be before awareness"})
		default:
			at = t
		}
	}
	at = at.UTC().Truncate(time.Second)
	reason := strings.TrimSpace(n.LateReason)
	if at.After(b.DueAt) && reason == "" {
		bad = append(bad, api.FieldError{Pointer: "/late_reason", Code: "required",
			Detail: "the notification is more than 72 hours after awareness: give the reasons for the delay (Art. 33(1))"})
	}
	bad = append(bad, checkText("/late_reason", reason)...)
	if len(bad) > 0 {
		return nil, api.Invalid(bad)
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		done, err := s.rows().setNotified(ctx, tx, id, at, reason)
		switch {
		case err != nil:
			return err
		case !done:
			return ErrAlreadyNotified
		}
		return s.Audit.Record(ctx, tx, actor, "breach.authority_notified", nil, map[string]string{"breach_id": id,
			"at": store.FormatTime(at), "late": strconv.FormatBool(at.After(b.DueAt))})
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// DecideRisk records the DPO's decision on the risk to persons (Art. 34).
func (s *Service) DecideRisk(ctx context.Context, actor, id string, r Risk) (*Breach, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	r.Reason, r.Advice = strings.TrimSpace(r.Reason), strings.TrimSpace(r.Advice)
	var bad []api.FieldError
	if r.Reason == "" {
		bad = append(bad, api.FieldError{Pointer: "/reason", Code: "required", Detail: "say why the risk to persons is, or is not, high"})
	}
	if r.High && r.Advice == "" {
		bad = append(bad, api.FieldError{Pointer: "/advice", Code: "required",
			Detail: "say what persons can do to protect themselves (Art. 34(2)): the letters give it"})
	}
	bad = append(bad, checkText("/reason", r.Reason)...)
	bad = append(bad, checkText("/advice", r.Advice)...)
	if len(bad) > 0 {
		return nil, api.Invalid(bad)
	}
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().setRisk(ctx, tx, id, r); err != nil {
			return err
		}
		return s.Audit.Record(ctx, tx, actor, "breach.risk_decided", nil, map[string]string{"breach_id": id,
			"outcome": map[bool]string{true: "high", false: "not_high"}[r.High]})
	})
	if err != nil {
		return nil, fmt.Errorf("breach risk: %w", err)
	}
	return s.Get(ctx, id)
}

// AwaitingNotification counts the breaches not yet notified to the
// authority, and how many of them are past their 72 hours.
func (s *Service) AwaitingNotification(ctx context.Context) (open, overdue int, err error) {
	awares, err := s.rows().unnotified(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("breaches awaiting notification: %w", err)
	}
	now := s.Clock.Now()
	for _, a := range awares {
		if now.After(a.Add(NotifyWithin)) {
			overdue++
		}
	}
	return len(awares), overdue, nil
}
