package subjects

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/store"
)

// Service is the data-subject requests over the database.
type Service struct {
	DB          *store.DB
	Orders      Orders
	Holds       Holds
	Sharing     Sharing
	Disclosures Disclosures
	Partners    Partners
	Audit       Auditor
	Now         func() time.Time
	// Retention states the retention rule in force (RetentionRule), for
	// exports.
	Retention string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func newRequestID() string {
	return "dsr_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// NewRequest is a request as the DPO logs it.
type NewRequest struct {
	Type  Type
	Email string
	Phone string
	// ReceivedAt is when the person made the request; zero means now. The
	// one-month deadline of Art. 12(3) counts from it.
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

// Open logs a request and finds the person's orders across every
// reseller. An objection restricts sharing at once (Art. 21). It fails with
// a 422 problem for an invalid request.
func (s *Service) Open(ctx context.Context, actor string, n NewRequest) (*Request, error) {
	now := s.now()
	email, phone, err := n.check(now)
	if err != nil {
		return nil, err
	}
	received := n.ReceivedAt.UTC().Truncate(time.Microsecond)
	if received.IsZero() {
		received = now
	}
	eh, ph := s.Orders.SubjectHashes(email, phone)
	r := &Request{ID: newRequestID(), Type: n.Type, Status: StatusOpen, ReceivedAt: received,
		DueAt: due(received), Actor: actor, emailHash: eh, phoneHash: ph}
	err = s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		found, err := s.find(ctx, tx, eh, ph)
		if err != nil {
			return err
		}
		r.Orders = found
		if _, err := tx.ExecContext(ctx, sqlInsertRequest, r.ID, r.Type, nilIfEmpty(eh), nilIfEmpty(ph),
			store.FormatTime(r.ReceivedAt), store.FormatTime(r.DueAt), actor); err != nil {
			return fmt.Errorf("insert subject request: %w", err)
		}
		if err := s.addStep(ctx, tx, r.ID, actor, "opened", map[string]any{"orders": orderIDs(found)}); err != nil {
			return err
		}
		if err := s.Audit.Record(ctx, tx, actor, "subject.request_opened", map[string]string{"request_id": r.ID},
			map[string]string{"type": string(r.Type), "subject_hash": subjectHash(eh, ph), "orders": fmt.Sprint(len(found)),
				"due_at": store.FormatTime(r.DueAt)}); err != nil {
			return err
		}
		if err := s.recordOrders(ctx, tx, actor, "subject.order_found", r.ID, orderIDs(found), nil); err != nil {
			return err
		}
		if r.Type == TypeObjection {
			return s.restrict(ctx, tx, actor, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open subject request: %w", err)
	}
	return r, nil
}

// recordOrders records one audit entry per order of a step.
func (s *Service) recordOrders(ctx context.Context, tx *sqlx.Tx, actor, action, requestID string, ids []string, details map[string]string) error {
	for _, id := range ids {
		if err := s.Audit.Record(ctx, tx, actor, action, map[string]string{"request_id": requestID, "order_id": id}, details); err != nil {
			return err
		}
	}
	return nil
}

// find returns the person's orders through q (nil: the read pool), each
// with whether a legal hold keeps it.
func (s *Service) find(ctx context.Context, q sqlx.QueryerContext, eh, ph []byte) ([]Order, error) {
	if q == nil {
		q = s.DB.Reader
	}
	found, err := s.Orders.FindSubject(ctx, q, eh, ph)
	if err != nil {
		return nil, err
	}
	out := make([]Order, len(found))
	ids := make([]string, len(found))
	for i, o := range found {
		out[i], ids[i] = Order{SubjectOrder: o}, o.OrderID
	}
	held, err := s.Holds.Among(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Held = held[out[i].OrderID]
	}
	return out, nil
}

func orderIDs(os []Order) []string {
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.OrderID
	}
	return ids
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Get returns a request with its current orders and every step taken, or
// ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Request, error) {
	r, err := getRequest(ctx, s.DB.Reader, id)
	if err != nil {
		return nil, err
	}
	if r.Orders, err = s.find(ctx, nil, r.emailHash, r.phoneHash); err != nil {
		return nil, err
	}
	if r.Steps, err = steps(ctx, s.DB.Reader, id); err != nil {
		return nil, err
	}
	r.Overdue = r.Status == StatusOpen && s.now().After(r.DueAt)
	return r, nil
}

// List returns requests, oldest due first, with status "" meaning all.
func (s *Service) List(ctx context.Context, status Status, limit int) ([]*Request, error) {
	var rows []requestRow
	if err := s.DB.Reader.SelectContext(ctx, &rows, sqlListRequests, status, status, limit); err != nil {
		return nil, fmt.Errorf("list subject requests: %w", err)
	}
	now := s.now()
	out := make([]*Request, len(rows))
	for i, row := range rows {
		out[i] = row.request()
		out[i].Orders = []Order{}
		out[i].Overdue = out[i].Status == StatusOpen && now.After(out[i].DueAt)
	}
	return out, nil
}

// Complete closes a request. It fails with ErrNotFound or ErrCompleted.
func (s *Service) Complete(ctx context.Context, actor, id string) (*Request, error) {
	err := s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.openRequest(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlComplete, store.FormatTime(s.now()), id); err != nil {
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

// openRequest reads a request inside tx and fails unless it is open.
func (s *Service) openRequest(ctx context.Context, tx *sqlx.Tx, id string) (*Request, error) {
	r, err := getRequest(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusOpen {
		return nil, ErrCompleted
	}
	return r, nil
}

// OpenCounts returns how many requests are open and how many of those are
// past their due date.
func (s *Service) OpenCounts(ctx context.Context) (open, overdue int, err error) {
	var c struct {
		N       int `db:"n"`
		Overdue int `db:"overdue"`
	}
	if err := s.DB.Reader.GetContext(ctx, &c, sqlOpenCounts, store.FormatTime(s.now())); err != nil {
		return 0, 0, fmt.Errorf("count subject requests: %w", err)
	}
	return c.N, c.Overdue, nil
}
