package subjects

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
)

// Service is the data-subject requests over the database.
type Service struct {
	DB          *store.DB
	Orders      Orders
	Holds       Holds
	Sharing     Sharing
	Disclosures Disclosures
	Partners    Partners
	Audit       audit.Recorder
	Clock       base.Clock
	// Location is the controller's time zone, in which deadlines fall on
	// days (the fiscal calendar's); nil means UTC.
	Location *time.Location
	// Retention states the retention rule in force (RetentionRule), for
	// exports.
	Retention string
	// RequestRetention is how many years a completed request's records
	// are kept (HUSKY_REQUEST_RETENTION_YEARS; 0: DefaultRequestRetention).
	RequestRetention int
	// Setup is what the record, exports and replies state from the
	// configuration: the controller, its contacts, the measures in force.
	Setup Setup
}

func newRequestID() string {
	return base.NewID("dsr_")
}

// NewRequest is a request as the DPO logs it.
type NewRequest struct {
	Type  Type
	Email string
	Phone string
	// ReceivedAt is when the person made the request (a letter's date of
	// receipt); zero means now. The one-month deadline of Art. 12(3)
	// counts from its day.
	ReceivedAt time.Time
}

// check validates a new request, every problem at once, and returns the
// normalised email and phone.
func (n NewRequest) check(now time.Time) (email, phone string, err error) {
	var bad []api.FieldError
	if !slices.Contains(Types, n.Type) {
		bad = append(bad, api.FieldError{Pointer: "/type", Code: "invalid_type",
			Detail: "must be access, rectification, erasure, restriction or objection"})
	}
	email = orders.NormalizeEmail(n.Email)
	if email != "" {
		if msg := orders.CheckEmail(email); msg != "" {
			bad = append(bad, api.FieldError{Pointer: "/email", Code: "invalid_email", Detail: msg})
		}
	}
	if p := strings.TrimSpace(n.Phone); p != "" {
		// A national number is read as a Danish one, the controller's
		// country; give +country otherwise.
		e164, msg := orders.NormalizePhone(p, "DK")
		if msg != "" {
			bad = append(bad, api.FieldError{Pointer: "/phone", Code: "invalid_phone", Detail: msg})
		}
		phone = e164
	}
	if email == "" && strings.TrimSpace(n.Phone) == "" {
		bad = append(bad, api.FieldError{Pointer: "/email", Code: "required", Detail: "name the person by email, phone, or both"})
	}
	if n.ReceivedAt.After(now) {
		bad = append(bad, api.FieldError{Pointer: "/received_at", Code: "in_future", Detail: "must not be in the future"})
	}
	if len(bad) > 0 {
		return "", "", api.Invalid(bad)
	}
	return email, phone, nil
}

// subjectHash names the person in the audit trail: the first half of a
// keyed hash, never the email or phone.
func subjectHash(eh, ph []byte) string {
	h := eh
	if len(h) == 0 {
		h = ph
	}
	if len(h) > 16 {
		h = h[:16]
	}
	return hex.EncodeToString(h)
}

func (s *Service) loc() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.UTC
}

// present fills in what is worked out of a request rather than stored:
// its identifiers' names, its due date, whether it is overdue now, its
// extension, and the actions its type allows.
func (s *Service) present(r *Request, now time.Time) {
	r.Identifiers = []string{}
	if len(r.emailHash) > 0 {
		r.Identifiers = append(r.Identifiers, "email")
	}
	if len(r.phoneHash) > 0 {
		r.Identifiers = append(r.Identifiers, "phone")
	}
	r.DueDate = DueDate(r.DueAt, s.loc())
	r.Overdue = Overdue(r.Status, r.DueAt, now)
	r.AllowedActions = Actions[r.Type]
	if !r.extendedAt.IsZero() {
		prev := Deadline(r.ReceivedAt, answerMonths, s.loc())
		r.Extension = &Extension{At: r.extendedAt, Reason: r.extensionReason, PreviousDueAt: prev, TellPersonBy: DueDate(prev, s.loc())}
	}
	if r.Candidates == nil {
		r.Candidates = []Order{}
	}
	r.Orders = included(r.Candidates)
}

// Open logs a request and finds the person's candidate orders across every
// reseller. An objection restricts sharing of the included ones at once
// (Art. 21). It fails with a 422 problem for an invalid request.
func (s *Service) Open(ctx context.Context, actor string, n NewRequest) (_ *Request, err error) {
	ctx, span := tracing.Start(ctx, "subjects.open", trace.SpanKindInternal, attribute.String("husky.request_type", string(n.Type)))
	defer func() { tracing.End(span, err) }()
	now := s.Clock.Now()
	email, phone, err := n.check(now)
	if err != nil {
		return nil, err
	}
	received := n.ReceivedAt.UTC().Truncate(time.Microsecond)
	if received.IsZero() {
		received = now
	}
	// Stored: the hashes under the current lookup key; looked up: under
	// every key held (a rotation of the key may be under way).
	ehs, phs := s.Orders.SubjectHashes(email, phone)
	var eh, ph []byte
	if len(ehs) > 0 {
		eh = ehs[0]
	}
	if len(phs) > 0 {
		ph = phs[0]
	}
	r := &Request{ID: newRequestID(), Type: n.Type, Status: StatusOpen, ReceivedAt: received,
		DueAt: Deadline(received, answerMonths, s.loc()), Actor: actor, emailHash: eh, phoneHash: ph,
		lookupVersion: s.Orders.LookupVersionNow(), alsoEmail: ehs, alsoPhone: phs}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().insert(ctx, tx, insertRequestParams{ID: r.ID, Type: r.Type, EmailHash: eh, PhoneHash: ph,
			ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, Actor: actor, LookupVersion: r.lookupVersion}); err != nil {
			return fmt.Errorf("insert subject request: %w", err)
		}
		cands, err := s.candidates(ctx, tx, r)
		if err != nil {
			return err
		}
		if _, err := s.settle(ctx, tx, actor, r, cands, ""); err != nil {
			return err
		}
		r.Totals = Totals{Candidates: len(cands), Included: len(included(cands))}
		r.Candidates, r.HasMore, r.NextCursor = page(cands, "", PageSize)
		counts := map[string]int{}
		for _, o := range cands {
			counts[o.State]++
		}
		if err := s.addStep(ctx, tx, r.ID, actor, "opened", map[string]any{"orders": orderIDs(cands),
			"included": counts[StateIncluded], "needs_review": counts[StateNeedsReview]}); err != nil {
			return err
		}
		if err := s.Audit.Record(ctx, tx, actor, "subject.request_opened", map[string]string{"request_id": r.ID},
			map[string]string{"type": string(r.Type), "subject_hash": subjectHash(eh, ph), "orders": fmt.Sprint(len(cands)),
				"needs_review": fmt.Sprint(counts[StateNeedsReview]), "due_at": store.FormatTime(r.DueAt)}); err != nil {
			return err
		}
		for _, o := range cands {
			if err := s.recordOrders(ctx, tx, actor, "subject.order_found", r.ID, []string{o.OrderID},
				map[string]string{"matched_on": strings.Join(o.MatchedOn, ","), "state": o.State}); err != nil {
				return err
			}
		}
		if r.Type == TypeObjection {
			inc, err := s.settle(ctx, tx, actor, r, cands, ActionRestrict)
			if err != nil {
				return err
			}
			return s.restrict(ctx, tx, actor, r, inc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open subject request: %w", err)
	}
	if r.Type == TypeObjection {
		s.Sharing.Kick()
	}
	s.present(r, now)
	return r, nil
}

// recordOrders records one audit entry per order of a step.
func (s *Service) recordOrders(ctx context.Context, tx *store.Tx, actor, action, requestID string, ids []string, details map[string]string) error {
	for _, id := range ids {
		if err := s.Audit.Record(ctx, tx, actor, action, map[string]string{"request_id": requestID, "order_id": id}, details); err != nil {
			return err
		}
	}
	return nil
}

func orderIDs(os []Order) []string {
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.OrderID
	}
	return ids
}

// PageSize is how many candidate orders a request view, and how many
// orders an access export, shows at a time: a person with thousands of
// orders is read a page after another, never in one answer.
const PageSize = 100

// Get returns a request with the first page of its candidate orders as
// they stand now and every step taken, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Request, error) {
	return s.GetPage(ctx, id, "", PageSize)
}

// GetPage is Get with the page of candidates after order id after (""
// from the first), at most limit of them. Counts and states are worked
// out over every candidate.
func (s *Service) GetPage(ctx context.Context, id, after string, limit int) (*Request, error) {
	r, err := s.getRequest(ctx, s.DB.Reader, id)
	if err != nil {
		return nil, err
	}
	all, err := s.candidates(ctx, nil, r)
	if err != nil {
		return nil, err
	}
	r.Totals = Totals{Candidates: len(all), Included: len(included(all))}
	r.Candidates, r.HasMore, r.NextCursor = page(all, after, limit)
	if err := s.notices(ctx, r.Candidates); err != nil {
		return nil, err
	}
	if r.Steps, err = s.steps(ctx, s.DB.Reader, id); err != nil {
		return nil, err
	}
	s.present(r, s.Clock.Now())
	return r, nil
}

// page returns the orders after order id after, at most limit, whether
// more follow, and the cursor of the next page.
func page(os []Order, after string, limit int) ([]Order, bool, string) {
	start := 0
	if after != "" {
		start = len(os)
		for i, o := range os {
			if o.OrderID > after {
				start = i
				break
			}
		}
	}
	end := start + max(0, min(limit, len(os)-start))
	out := os[start:end]
	if end < len(os) {
		return out, true, api.Cursor(out[len(out)-1].OrderID)
	}
	return out, false, ""
}

// List returns requests, oldest due first, with status "" meaning all;
// their orders are left out (Get has them).
func (s *Service) List(ctx context.Context, status Status, limit int) ([]*Request, error) {
	rows, err := s.rows().list(ctx, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list subject requests: %w", err)
	}
	now := s.Clock.Now()
	out := make([]*Request, len(rows))
	for i, row := range rows {
		out[i] = row.request()
		s.present(out[i], now)
	}
	return out, nil
}

// Complete closes a request. It fails with ErrNotFound or ErrCompleted.
func (s *Service) Complete(ctx context.Context, actor, id string) (_ *Request, err error) {
	ctx, span := tracing.Start(ctx, "subjects.complete", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if _, err := s.openFor(ctx, tx, id, ActionComplete); err != nil {
			return err
		}
		if err := s.rows().complete(ctx, tx, id, s.Clock.Now()); err != nil {
			return fmt.Errorf("complete subject request: %w", err)
		}
		if err := s.addStep(ctx, tx, id, actor, "completed", nil); err != nil {
			return err
		}
		return s.Audit.Record(ctx, tx, actor, "subject.request_completed", map[string]string{"request_id": id}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("complete subject request: %w", err)
	}
	return s.Get(ctx, id)
}

// Extend extends an open request's deadline once, before it passes, by
// two further months (Art. 12(3)): due three months from its receipt,
// counted as the first month is. The person must be told of the extension
// and its reasons within the first month; the request records by when. It
// fails with ErrExtended, ErrPastDue, or a 422 problem without a reason.
func (s *Service) Extend(ctx context.Context, actor, id, reason string) (*Request, error) {
	if bad := checkReason(reason, "/reason"); len(bad) > 0 {
		return nil, api.Invalid(bad)
	}
	reason = strings.TrimSpace(reason)
	now := s.Clock.Now()
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.openRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		if !r.extendedAt.IsZero() {
			return ErrExtended
		}
		if Overdue(r.Status, r.DueAt, now) {
			return ErrPastDue
		}
		due := Deadline(r.ReceivedAt, extendedMonths, s.loc())
		if err := s.rows().extend(ctx, tx, extendParams{ID: id, DueAt: due, ExtendedAt: now, Reason: reason}); err != nil {
			return fmt.Errorf("extend subject request: %w", err)
		}
		if err := s.addStep(ctx, tx, id, actor, "extended", map[string]any{"reason": reason, "previous_due_at": r.DueAt,
			"due_at": due, "tell_person_by": DueDate(r.DueAt, s.loc())}); err != nil {
			return err
		}
		return s.Audit.Record(ctx, tx, actor, "subject.request_extended", map[string]string{"request_id": id},
			map[string]string{"previous_due_at": store.FormatTime(r.DueAt), "due_at": store.FormatTime(due)})
	})
	if err != nil {
		return nil, fmt.Errorf("extend subject request: %w", err)
	}
	return s.Get(ctx, id)
}

// openRequest reads a request inside tx and fails unless it is open.
func (s *Service) openRequest(ctx context.Context, tx *store.Tx, id string) (*Request, error) {
	r, err := s.getRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusOpen {
		return nil, ErrCompleted
	}
	return r, nil
}

// openFor reads an open request inside tx and fails with a 409 unless its
// type allows action.
func (s *Service) openFor(ctx context.Context, tx *store.Tx, id string, action Action) (*Request, error) {
	r, err := s.openRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if !r.Type.Allows(action) {
		return nil, notAllowed(r.Type, action)
	}
	return r, nil
}

// OpenCounts returns how many requests are open and how many of those are
// past their due date, by Overdue.
func (s *Service) OpenCounts(ctx context.Context) (open, overdue int, err error) {
	dues, err := s.rows().openDue(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("count subject requests: %w", err)
	}
	now := s.Clock.Now()
	for _, d := range dues {
		if Overdue(StatusOpen, d.Time, now) {
			overdue++
		}
	}
	return len(dues), overdue, nil
}
