package subjects

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// The answer to the person (Art. 12(1) and (4)): for every request a
// reply the DPO can send as it is, in clear and plain language: what was
// done on each of the person's orders, with the reason for anything not
// done, and the right to complain to the supervisory authority (Art. 77)
// and to a judicial remedy (Art. 79). It is written from the request's
// steps and the orders it covers; orders that need review or were
// excluded may be another person's and are never named in it.

// Remedy states the right to a judicial remedy (Art. 79).
const Remedy = "You may also take the matter to the courts (GDPR Art. 79): in Denmark, or in the member state where you live."

// Reply is the answer to a request.
type Reply struct {
	RequestID   string     `json:"request_id"`
	Type        Type       `json:"type"`
	Right       string     `json:"right"`
	Status      Status     `json:"status"`
	ReceivedAt  time.Time  `json:"received_at"`
	DueDate     string     `json:"due_date"`
	GeneratedAt time.Time  `json:"generated_at"`
	Controller  Controller `json:"controller"`
	// Extension says why the answer takes longer, when it does.
	Extension *Extension   `json:"extension,omitempty"`
	Summary   string       `json:"summary"`
	Orders    []ReplyOrder `json:"orders"`
	Complaint string       `json:"complaint"`
	Remedy    string       `json:"judicial_remedy"`
}

// ReplyOrder is what was done on one order, and what was not, and why.
type ReplyOrder struct {
	OrderID  string    `json:"order_id"`
	Reseller string    `json:"reseller"`
	PlacedOn time.Time `json:"placed_on"`
	Done     []string  `json:"done"`
	NotDone  []string  `json:"not_done"`
}

var rights = map[Type]string{
	TypeAccess:        "access to your personal data (GDPR Art. 15)",
	TypeRectification: "rectification of your personal data (GDPR Art. 16)",
	TypeErasure:       "erasure of your personal data (GDPR Art. 17)",
	TypeRestriction:   "restriction of the processing of your personal data (GDPR Art. 18)",
	TypeObjection:     "objection to the processing of your personal data (GDPR Art. 21)",
}

// Reply writes the answer to request id as it stands, or ErrNotFound.
func (s *Service) Reply(ctx context.Context, id string) (Reply, error) {
	// Every included order, not a page: the reply answers for them all.
	r, err := s.GetPage(ctx, id, "", math.MaxInt)
	if err != nil {
		return Reply{}, err
	}
	ps, err := s.Partners.List(ctx)
	if err != nil {
		return Reply{}, err
	}
	names := map[string]string{}
	for _, p := range ps {
		names[p.ID] = p.Name
	}
	out := Reply{RequestID: r.ID, Type: r.Type, Right: rights[r.Type], Status: r.Status, ReceivedAt: r.ReceivedAt,
		DueDate: r.DueDate, GeneratedAt: s.Clock.Now(), Controller: s.controller(), Extension: r.Extension,
		Orders: []ReplyOrder{}, Complaint: "You may complain to " + Authority + " (GDPR Art. 77).", Remedy: Remedy}
	done := stepsByOrder(r.Steps, s.loc())
	for _, o := range r.Orders {
		ro := ReplyOrder{OrderID: o.OrderID, Reseller: names[o.ResellerID], PlacedOn: o.CreatedAt, Done: done[o.OrderID].done,
			NotDone: done[o.OrderID].notDone}
		if ro.Done == nil {
			ro.Done = []string{}
		}
		if ro.NotDone == nil {
			ro.NotDone = []string{}
		}
		if len(ro.Done)+len(ro.NotDone) == 0 {
			if r.Status == StatusOpen {
				ro.NotDone = append(ro.NotDone, "We are still working on your request for this order.")
			} else {
				ro.Done = append(ro.Done, "Nothing needed to be done on this order.")
			}
		}
		out.Orders = append(out.Orders, ro)
	}
	out.Summary = summary(r, len(out.Orders))
	return out, nil
}

func summary(r *Request, n int) string {
	if n == 0 {
		return fmt.Sprintf("You asked us for %s. We looked for your personal data in every order placed through our resellers and found none held by us.",
			rights[r.Type])
	}
	return fmt.Sprintf("You asked us for %s. We found %d order%s placed for you through our resellers; below is what we did on each.",
		rights[r.Type], n, plural(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

type orderDeeds struct{ done, notDone []string }

// stepsByOrder turns a request's steps into sentences per order.
func stepsByOrder(steps []Step, loc *time.Location) map[string]*orderDeeds {
	out := map[string]*orderDeeds{}
	at := func(id string) *orderDeeds {
		if out[id] == nil {
			out[id] = &orderDeeds{}
		}
		return out[id]
	}
	day := func(t time.Time) string { return t.In(loc).Format("2 January 2006") }
	for _, st := range steps {
		// Steps keep their results as JSON; read back the shapes written.
		b, _ := json.Marshal(st.Result)
		var res struct {
			Orders       json.RawMessage `json:"orders"`
			Reason       string          `json:"reason"`
			PersonToldAt time.Time       `json:"person_told_at"`
		}
		_ = json.Unmarshal(b, &res)
		var ids []string
		var outcomes []Outcome
		var rectified []struct {
			OrderID string   `json:"order_id"`
			Changed []string `json:"changed"`
		}
		switch st.Action {
		case "exported", "restricted", "lifted":
			_ = json.Unmarshal(res.Orders, &ids)
		case "erasure", "erasure_decided":
			_ = json.Unmarshal(res.Orders, &outcomes)
		case "rectified":
			_ = json.Unmarshal(res.Orders, &rectified)
		}
		for _, id := range ids {
			d := at(id)
			switch st.Action {
			case "exported":
				d.done = append(d.done, fmt.Sprintf("On %s we gave you a copy of your personal data in this order, with who received which of it and when (Art. 15).", day(st.Time)))
			case "restricted":
				d.done = append(d.done, fmt.Sprintf("On %s we restricted it: it is not shared with anyone while the restriction lasts, and every recipient that had received it was told (Art. 18 and 19).", day(st.Time)))
			case "lifted":
				d.done = append(d.done, fmt.Sprintf("On %s we lifted the restriction, having told you on %s. Our reason: %s", day(st.Time), day(res.PersonToldAt), res.Reason))
			}
		}
		for _, rc := range rectified {
			at(rc.OrderID).done = append(at(rc.OrderID).done, fmt.Sprintf("On %s we corrected: %s. Every recipient that had received a corrected field was sent its new value (Art. 16 and 19).",
				day(st.Time), strings.Join(rc.Changed, ", ")))
		}
		for _, oc := range outcomes {
			d := at(oc.OrderID)
			switch {
			case oc.Outcome == OutcomeErased:
				d.done = append(d.done, fmt.Sprintf("On %s we erased your personal data in this order, and told every recipient that had received it to erase it too (Art. 17 and 19).", day(st.Time)))
			case oc.Outcome == OutcomeRetained && oc.Reason == "legal_hold":
				d.notDone = append(d.notDone, "We cannot erase it yet: a legal hold requires us to keep it for legal claims (Art. 17(3)(e)). Until the hold ends it is not shared with anyone; then it is erased under our retention rule.")
			case oc.Outcome == OutcomeRetained:
				until := "its retention date"
				if oc.Until != nil {
					until = day(*oc.Until)
				}
				d.notDone = append(d.notDone, fmt.Sprintf("We cannot erase it yet: the Danish Bookkeeping Act requires us to keep the order as accounting material until %s (Art. 17(3)(b)). Until then it is not shared with anyone, and on that date it is erased everywhere.", until))
			case oc.Outcome == OutcomeScheduled:
				d.notDone = append(d.notDone, "The order is still being fulfilled; we will decide on its erasure when it is closed, under the same rules.")
			}
		}
	}
	return out
}

//go:embed reply.html
var replyHTML string

var replyTemplate = template.Must(template.New("reply").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.Format("2 January 2006") },
}).Parse(replyHTML))

// ReplyCSP is the reply page's Content-Security-Policy: its own inline
// stylesheet only, no script.
var ReplyCSP = StyleOnlyCSP(replyHTML)

// WriteHTML writes the reply as a printable letter.
func (r Reply) WriteHTML(w io.Writer) error { return replyTemplate.Execute(w, r) }
