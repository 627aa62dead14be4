// Package subjects serves the data-subject rights of GDPR Art. 15-21 end
// to end: a data-protection officer logs a person's request, finds their
// orders across every reseller through a keyed-hash index, and exports what
// is held and who received which fields when (Art. 15), rectifies it
// (Art. 16), erases what bookkeeping does not require (Art. 17), and
// restricts sharing (Art. 18, 21); every recipient that received the data
// is told (Art. 19). It also writes the record of processing (Art. 30)
// from the running configuration. It owns the requests and their steps,
// and reaches orders, sharing, partners and the audit trail through the
// small interfaces below.
package subjects

import (
	"context"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
)

// Type is the right a request exercises.
type Type string

// The request types.
const (
	TypeAccess        Type = "access"        // Art. 15
	TypeRectification Type = "rectification" // Art. 16
	TypeErasure       Type = "erasure"       // Art. 17
	TypeRestriction   Type = "restriction"   // Art. 18
	TypeObjection     Type = "objection"     // Art. 21
)

// Types lists every request type.
var Types = []Type{TypeAccess, TypeRectification, TypeErasure, TypeRestriction, TypeObjection}

// Status is where a request stands.
type Status string

// The request states.
const (
	StatusOpen      Status = "open"
	StatusCompleted Status = "completed"
)

// Request is a data-subject request. The person is known to the service
// by keyed hashes of their email and phone only.
type Request struct {
	ID          string     `json:"id"`
	Type        Type       `json:"type"`
	Status      Status     `json:"status"`
	ReceivedAt  time.Time  `json:"received_at"`
	DueAt       time.Time  `json:"due_at"`
	Overdue     bool       `json:"overdue"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Actor       string     `json:"actor"`
	Orders      []Order    `json:"orders"`
	Steps       []Step     `json:"steps,omitempty"`

	emailHash, phoneHash []byte
}

// Order is one of the person's orders as a request sees it: ids, state
// and dates, and whether a legal hold keeps it; never personal values.
type Order struct {
	orders.SubjectOrder
	Held bool `json:"legal_hold"`
}

// Step is one thing done on a request and its outcome: ids, field names
// and outcomes, never values.
type Step struct {
	Seq    int       `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Result any       `json:"result,omitempty"`
}

// Outcome is what an erasure request did to one order (Art. 17).
type Outcome struct {
	OrderID string `json:"order_id"`
	// Outcome is erased, retained or scheduled.
	Outcome string `json:"outcome"`
	// Until is when a retained order's data is erased, when known.
	Until *time.Time `json:"until,omitempty"`
	// Reason a retained order is kept: bookkeeping (Art. 17(3)(b), the
	// Danish Bookkeeping Act) or legal_hold.
	Reason string `json:"reason,omitempty"`
}

// The outcomes of an erasure.
const (
	OutcomeErased    = "erased"
	OutcomeRetained  = "retained"
	OutcomeScheduled = "scheduled"
)

// Errors returned by this package.
var (
	ErrNotFound  = api.New(http.StatusNotFound, "subject_request_not_found", "no such subject request")
	ErrCompleted = api.New(http.StatusConflict, "subject_request_completed", "the subject request is completed; log a new one")
)

// Orders is what the service needs of the orders package.
type Orders interface {
	SubjectHashes(email, phone string) (eh, ph []byte)
	FindSubject(ctx context.Context, q sqlx.QueryerContext, eh, ph []byte) ([]orders.SubjectOrder, error)
	GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (*orders.Order, error)
	Rectify(ctx context.Context, tx *sqlx.Tx, actor string, ids []string, r orders.Rectification) ([]orders.Rectified, error)
	Erase(ctx context.Context, tx *sqlx.Tx, actor string, ids []string, now time.Time) (orders.Erased, error)
}

// Holds tells which orders a legal hold keeps (retention's).
type Holds interface {
	Among(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) (map[string]bool, error)
}

// Sharing is what the service needs of the outbox: erasure of what it
// holds, restriction of sharing, and waking the dispatcher.
type Sharing interface {
	Erase(ctx context.Context, tx *sqlx.Tx, actor string, orderIDs []string) (int, error)
	Restrict(ctx context.Context, tx *sqlx.Tx, actor, requestID string, hashes [][]byte, orderIDs []string) (int, error)
	Lift(ctx context.Context, tx *sqlx.Tx, actor, requestID string) ([]string, int, error)
	Kick()
}

// Disclosures reads what was actually sent to whom.
type Disclosures interface {
	Disclosures(ctx context.Context, orderIDs []string) ([]sharing.Disclosed, error)
}

// Partners names resellers and recipients.
type Partners interface {
	List(ctx context.Context) ([]partners.Partner, error)
}

// Auditor records in the audit trail inside the caller's transaction.
type Auditor interface {
	Record(ctx context.Context, tx *sqlx.Tx, actor, action string, subjects, details map[string]string) error
}
