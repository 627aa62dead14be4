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
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
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

// Action is something the DPO does on a request.
type Action string

// The actions on a request. Deciding which candidate orders a request
// covers, extending its deadline and writing the reply are open to every
// type; the rest depend on the right exercised (Actions).
const (
	ActionExport   Action = "export"
	ActionRectify  Action = "rectify"
	ActionErase    Action = "erase"
	ActionRestrict Action = "restrict"
	ActionLift     Action = "lift"
	ActionComplete Action = "complete"
)

// Actions lists, per type, the actions a request of that type allows:
// a request exercises one right, and an access request cannot erase.
// An objection restricts sharing when it is logged (Art. 21(1)); the DPO
// then lifts it, having decided that compelling legitimate grounds
// override, or erases.
var Actions = map[Type][]Action{
	TypeAccess:        {ActionExport, ActionComplete},
	TypeRectification: {ActionRectify, ActionExport, ActionComplete},
	TypeErasure:       {ActionErase, ActionComplete},
	TypeRestriction:   {ActionRestrict, ActionLift, ActionComplete},
	TypeObjection:     {ActionLift, ActionErase, ActionComplete},
}

// Allows reports whether a request of type t allows action a.
func (t Type) Allows(a Action) bool { return slices.Contains(Actions[t], a) }

// Request is a data-subject request. The person is known to the service
// by keyed hashes of the identifiers the request was given only.
type Request struct {
	ID     string `json:"id"`
	Type   Type   `json:"type"`
	Status Status `json:"status"`
	// Identifiers names the identifiers the request was given (email,
	// phone), never their values.
	Identifiers []string  `json:"identifiers"`
	ReceivedAt  time.Time `json:"received_at"`
	// DueAt is the instant the deadline passes: the end of DueDate in
	// the controller's time zone (Deadline).
	DueAt       time.Time  `json:"due_at"`
	DueDate     string     `json:"due_date"`
	Overdue     bool       `json:"overdue"`
	Extension   *Extension `json:"extension,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Actor       string     `json:"actor"`
	// AllowedActions are the actions this request's type allows.
	AllowedActions []Action `json:"allowed_actions"`
	// Candidates are every order matching any of the request's
	// identifiers, or held by its restriction, each with its state.
	Candidates []Order `json:"candidates"`
	// Orders are the candidates included: what every action acts on.
	Orders []Order `json:"orders"`
	// Totals count every candidate and included order; Candidates and
	// Orders hold one page of them, HasMore and NextCursor lead on.
	Totals     Totals `json:"totals"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
	Steps      []Step `json:"steps,omitempty"`

	emailHash, phoneHash []byte
	lookupVersion        uint32 // of the lookup key the hashes were made with
	// also are the identifiers' hashes under every lookup key held when the
	// request was logged (the stored ones first), for its first lookup.
	alsoEmail, alsoPhone [][]byte
	extendedAt           time.Time
	extensionReason      string
}

// Totals count a request's orders over every page.
type Totals struct {
	Candidates int `json:"candidates"`
	Included   int `json:"included"`
}

// Extension is the one extension of a request's deadline by two further
// months (Art. 12(3)).
type Extension struct {
	At     time.Time `json:"extended_at"`
	Reason string    `json:"reason"`
	// PreviousDueAt is the deadline before the extension; the person must
	// be told of the extension and its reasons by then.
	PreviousDueAt time.Time `json:"previous_due_at"`
	TellPersonBy  string    `json:"tell_person_by"`
}

// The states of a candidate order.
const (
	StateIncluded    = "included"
	StateNeedsReview = "needs_review"
	StateExcluded    = "excluded"
)

// Order is one candidate order of a request: ids, state and dates, how it
// matched, whether the request covers it, and whether a legal hold keeps
// it; never personal values.
type Order struct {
	orders.SubjectOrder
	Held bool `json:"legal_hold"`
	// MatchedOn names the request's identifiers the order held when found.
	MatchedOn []string `json:"matched_on"`
	// State is included, needs_review or excluded; Reason says why an
	// order needs review, or the DPO's reason for a decision.
	State     string     `json:"state"`
	Reason    string     `json:"reason,omitempty"`
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	// Restriction is what this request's restriction of the order stands
	// for, if it restricts it: restriction, retained_erasure, or new_order
	// (a new order of the restricted person, held for review).
	Restriction sharing.RestrictionKind `json:"restriction,omitempty"`
	// Notices are the erasure notices sent for the order and whether each
	// recipient answered them.
	Notices []NoticeState `json:"erasure_notices,omitempty"`

	persisted bool
}

// NoticeState is an erasure notice to one recipient and its answer.
type NoticeState struct {
	PartnerID    string     `json:"partner_id"`
	SentAt       time.Time  `json:"sent_at"`
	Status       string     `json:"status"`
	Reminders    int        `json:"reminders"`
	Acknowledged *time.Time `json:"acknowledged_at,omitempty"`
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
	ErrExtended  = api.New(http.StatusConflict, "subject_request_extended", "the deadline was extended already; it can be extended once (Art. 12(3))")
	ErrPastDue   = api.New(http.StatusConflict, "subject_request_past_due", "the deadline has passed; it can only be extended before it does (Art. 12(3))")
)

// notAllowed is the 409 for an action the request's type does not allow.
func notAllowed(t Type, a Action) error {
	allowed := make([]string, len(Actions[t]))
	for i, x := range Actions[t] {
		allowed[i] = string(x)
	}
	e := api.New(http.StatusConflict, "action_not_allowed", "%s is not an action of a%s %s request, which allows %s",
		a, article(string(t)), t, strings.Join(allowed, ", "))
	e.Allowed = allowed
	return e
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

// Orders is what the service needs of the orders package.
type Orders interface {
	SubjectHashes(email, phone string) (ehs, phs [][]byte)
	LookupVersionNow() uint32
	FindSubject(ctx context.Context, q sqlx.QueryerContext, ehs, phs [][]byte) ([]orders.SubjectOrder, error)
	SubjectOrders(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]orders.SubjectOrder, error)
	GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (*orders.Order, error)
	Rectify(ctx context.Context, tx *store.Tx, actor string, ids []string, r orders.Rectification) ([]orders.Rectified, error)
	Erase(ctx context.Context, tx *store.Tx, actor string, ids []string, now time.Time) (orders.Erased, error)
	ErasureAcks(ctx context.Context, orderIDs []string) (map[string]map[string]time.Time, error)
}

// Holds tells which orders a legal hold keeps (retention's).
type Holds interface {
	Among(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) (map[string]bool, error)
}

// Sharing is what the service needs of the outbox: erasure of what it
// holds, restriction of sharing, and waking the dispatcher.
type Sharing interface {
	Erase(ctx context.Context, tx *store.Tx, actor string, orderIDs []string) (int, error)
	Restrict(ctx context.Context, tx *store.Tx, actor, requestID string, kind sharing.RestrictionKind, hashes []sharing.Hashed, orderIDs []string) (int, error)
	Lift(ctx context.Context, tx *store.Tx, actor, requestID string) ([]string, int, error)
	LiftOrders(ctx context.Context, tx *store.Tx, actor, requestID string, orderIDs []string) (int, error)
	RestrictedBy(ctx context.Context, q sqlx.QueryerContext, requestID string) (map[string]sharing.RestrictionKind, error)
	BindingHashes(ctx context.Context, q sqlx.QueryerContext, requestID string) ([][]byte, error)
	Kick()
}

// Disclosures reads what was actually sent to whom, and the erasure
// notices.
type Disclosures interface {
	Disclosures(ctx context.Context, orderIDs []string) ([]sharing.Disclosed, error)
	Notices(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) ([]sharing.Notice, error)
}

// Partners names resellers and recipients.
type Partners interface {
	List(ctx context.Context) ([]partners.Partner, error)
}
