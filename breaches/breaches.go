// Package breaches keeps the register of personal data breaches (GDPR
// Art. 33 and 34): where a breach happened (at one or more recipients, or
// at this service itself), its window, when the controller became aware of
// it, and what the service's own records say it touched — orders, persons,
// fields, countries, and how much of it is still held — counted from the
// disclosures the outbox recorded and the erasures recipients acknowledged.
//
// The register holds figures and the DPO's own text, never personal data;
// the letters to persons (Art. 34) are written on demand from the live
// orders and kept nowhere. It owns the breaches table.
package breaches

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/base"
)

// Scope is where a breach happened.
type Scope string

const (
	// ScopeRecipients: at one or more recipients, which held what the
	// service disclosed to them.
	ScopeRecipients Scope = "recipients"
	// ScopeService: at this service itself, which held every order's
	// personal data until it was erased.
	ScopeService Scope = "service"
)

// WhereService is how a request names this service as where a breach
// happened.
const WhereService = "service"

// NotifyWithin is the time Art. 33(1) gives to notify the supervisory
// authority, from awareness.
const NotifyWithin = 72 * time.Hour

// Breach is one entry of the register.
type Breach struct {
	ID    string `json:"id"`
	Scope Scope  `json:"scope"`
	// Recipients are the recipients' partner ids (ScopeRecipients).
	Recipients  []string  `json:"recipients"`
	WindowFrom  time.Time `json:"window_from"`
	WindowTo    time.Time `json:"window_to"`
	AwareAt     time.Time `json:"aware_at"`
	Description string    `json:"description"`
	// Consequences and Measures are the DPO's account of the likely
	// consequences and of the measures taken or proposed (Art. 33(3)(c)
	// and (d)).
	Consequences string    `json:"likely_consequences"`
	Measures     string    `json:"measures_taken"`
	OpenedBy     string    `json:"opened_by"`
	OpenedAt     time.Time `json:"opened_at"`
	// DueAt is 72 hours after awareness; Overdue says the authority is not
	// notified and DueAt has passed; Late that it was notified after DueAt.
	DueAt      time.Time  `json:"notification_due_at"`
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	LateReason string     `json:"late_reason,omitempty"`
	Overdue    bool       `json:"overdue"`
	Late       bool       `json:"late"`
	// HighRisk is the DPO's decision that the breach is likely to result
	// in a high risk to persons (Art. 34(1)), with its reason and the
	// advice the letters give.
	HighRisk   bool    `json:"high_risk"`
	RiskReason string  `json:"risk_reason,omitempty"`
	Advice     string  `json:"advice,omitempty"`
	Impact     *Impact `json:"impact,omitempty"`
}

// present works out what is not stored: the deadline and its state.
func (b *Breach) present(now time.Time) {
	b.DueAt = b.AwareAt.Add(NotifyWithin)
	b.Overdue = b.NotifiedAt == nil && now.After(b.DueAt)
	b.Late = b.NotifiedAt != nil && b.NotifiedAt.After(b.DueAt)
	if b.Recipients == nil {
		b.Recipients = []string{}
	}
}

// NewBreach is what the DPO records when a breach is reported.
type NewBreach struct {
	// Where names the recipients' partner ids, or WhereService alone.
	Where        []string `json:"where"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	AwareAt      string   `json:"aware_at"`
	Description  string   `json:"description"`
	Consequences string   `json:"likely_consequences"`
	Measures     string   `json:"measures_taken"`
}

// maxText bounds the DPO's texts.
const maxText = 4000

// opening is a NewBreach checked.
type opening struct {
	scope                  Scope
	recipients             []string
	from, to, aware        time.Time
	description            string
	consequences, measures string
}

// check validates n against now and the recipients that exist, reporting
// every bad field at once.
func (n NewBreach) check(now time.Time, isRecipient func(id string) bool) (opening, []api.FieldError) {
	var bad []api.FieldError
	o := opening{description: strings.TrimSpace(n.Description), consequences: strings.TrimSpace(n.Consequences),
		measures: strings.TrimSpace(n.Measures)}
	switch {
	case len(n.Where) == 0:
		bad = append(bad, api.FieldError{Pointer: "/where", Code: "required",
			Detail: `name the recipients' partner ids, or "service" for this service itself`})
	case slices.Contains(n.Where, WhereService) && len(n.Where) > 1:
		bad = append(bad, api.FieldError{Pointer: "/where", Code: "invalid_where",
			Detail: `"service" stands alone: a breach here already covers what every recipient received`})
	case slices.Contains(n.Where, WhereService):
		o.scope = ScopeService
	default:
		o.scope = ScopeRecipients
		for i, id := range n.Where {
			if !isRecipient(id) {
				bad = append(bad, api.FieldError{Pointer: "/where/" + strconv.Itoa(i), Code: "unknown_recipient",
					Detail: "no recipient (logistics partner or manufacturer) has this id"})
			} else if !slices.Contains(o.recipients, id) {
				o.recipients = append(o.recipients, id)
			}
		}
		slices.Sort(o.recipients)
	}
	when := func(ptr, s string, required bool) time.Time {
		if s == "" {
			if required {
				bad = append(bad, api.FieldError{Pointer: ptr, Code: "required", Detail: "an RFC 3339 time is required"})
			}
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			bad = append(bad, api.FieldError{Pointer: ptr, Code: "invalid_time", Detail: "must be an RFC 3339 time"})
			return time.Time{}
		}
		if t.After(now) {
			bad = append(bad, api.FieldError{Pointer: ptr, Code: "in_future", Detail: "must not be in the future"})
		}
		return t.UTC().Truncate(time.Second)
	}
	o.from = when("/from", n.From, true)
	o.to = when("/to", n.To, false)
	o.aware = when("/aware_at", n.AwareAt, true)
	if n.To == "" {
		// A breach still under way: its window runs to now.
		o.to = now.UTC().Truncate(time.Second)
	}
	if !o.from.IsZero() && !o.to.IsZero() && o.to.Before(o.from) {
		bad = append(bad, api.FieldError{Pointer: "/to", Code: "before_from", Detail: "the window must not end before it starts"})
	}
	if !o.from.IsZero() && !o.aware.IsZero() && o.aware.Before(o.from) {
		bad = append(bad, api.FieldError{Pointer: "/aware_at", Code: "before_from",
			Detail: "awareness cannot come before the breach started"})
	}
	if o.description == "" {
		bad = append(bad, api.FieldError{Pointer: "/description", Code: "required", Detail: "describe the nature of the breach (Art. 33(3)(a))"})
	}
	bad = append(bad, checkText("/description", o.description)...)
	bad = append(bad, checkText("/likely_consequences", o.consequences)...)
	bad = append(bad, checkText("/measures_taken", o.measures)...)
	return o, bad
}

// checkText checks one of the DPO's texts.
func checkText(ptr, s string) []api.FieldError { return api.TextField(ptr, s, maxText) }

// Notification is the DPO's record that the supervisory authority was
// notified (Art. 33(1)), with the reason for any delay past 72 hours.
type Notification struct {
	NotifiedAt string `json:"notified_at"`
	LateReason string `json:"late_reason"`
}

// Risk is the DPO's decision on the risk to persons (Art. 34(1)): high
// or not, why, and the advice the letters give persons.
type Risk struct {
	High   bool   `json:"high"`
	Reason string `json:"reason"`
	Advice string `json:"advice"`
}

// Problems the register answers with.
var (
	// ErrNotHighRisk refuses letters to persons before the DPO decided
	// the risk to them is high.
	ErrNotHighRisk = api.New(http.StatusConflict, "not_high_risk",
		"letters to persons (Art. 34) are written once the breach is recorded as a high risk to them: POST its risk first")
	// ErrAlreadyNotified refuses a second notification record.
	ErrAlreadyNotified = api.New(http.StatusConflict, "already_notified", "the authority's notification is already recorded")
)

func newBreachID() string { return base.NewID("brc_") }
