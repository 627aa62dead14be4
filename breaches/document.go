package breaches

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/milestone/husky/subjects"
)

// Document is the notification to the supervisory authority with the
// content Art. 33(3) requires, written from the register and the breach's
// latest impact: the DPO can send it as it is, in JSON or as a page.
type Document struct {
	BreachID    string              `json:"breach_id"`
	GeneratedAt time.Time           `json:"generated_at"`
	Controller  subjects.Controller `json:"controller"`
	// (a) the nature of the breach, the categories and approximate
	// numbers of persons and of records concerned.
	Nature     string         `json:"nature"`
	Where      string         `json:"where"`
	WindowFrom time.Time      `json:"window_from"`
	WindowTo   time.Time      `json:"window_to"`
	AwareAt    time.Time      `json:"aware_at"`
	Persons    int            `json:"approximate_persons"`
	Records    int            `json:"approximate_records"`
	Categories []FieldCount   `json:"categories_of_personal_data"`
	Countries  []CountryCount `json:"countries"`
	StillHeld  int            `json:"records_still_held"`
	// (b) the DPO's contact; (c) likely consequences; (d) measures.
	Contact      string `json:"contact_point"`
	Consequences string `json:"likely_consequences"`
	Measures     string `json:"measures_taken"`
	// Persons informed (Art. 34) and the timing (Art. 33(1)).
	PersonsInformed string     `json:"persons_informed"`
	DueAt           time.Time  `json:"notification_due_at"`
	NotifiedAt      *time.Time `json:"notified_at,omitempty"`
	LateReason      string     `json:"late_reason,omitempty"`
	ImpactAt        time.Time  `json:"impact_computed_at"`
}

// Document writes the breach's notification document.
func (s *Service) Document(ctx context.Context, id string) (Document, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return Document{}, err
	}
	im := b.Impact
	if im == nil {
		im = &Impact{Fields: []FieldCount{}, Countries: []CountryCount{}}
	}
	d := Document{BreachID: b.ID, GeneratedAt: s.Clock.Now(), Controller: s.Controller, Nature: b.Description,
		WindowFrom: b.WindowFrom, WindowTo: b.WindowTo, AwareAt: b.AwareAt, Persons: im.Persons, Records: im.Orders,
		Categories: im.Fields, Countries: im.Countries, StillHeld: im.StillHeld,
		Contact:      s.Controller.DPO,
		Consequences: b.Consequences, Measures: b.Measures, DueAt: b.DueAt, NotifiedAt: b.NotifiedAt, LateReason: b.LateReason,
		ImpactAt: im.ComputedAt}
	if d.Contact == "" {
		d.Contact = "NOT CONFIGURED: set HUSKY_DPO_CONTACT before sending this notification"
	}
	if b.Scope == ScopeService {
		d.Where = "At the controller's own order-fulfilment service, which held the orders' personal data."
	} else {
		var parts []string
		for _, r := range im.Recipients {
			parts = append(parts, fmt.Sprintf("%s (%s, %s): %d orders, %d persons", r.Name, r.PartnerID, r.Country, r.Orders, r.Persons))
		}
		if len(parts) == 0 {
			parts = b.Recipients
		}
		d.Where = "At recipients the controller disclosed personal data to for the delivery of orders: " + strings.Join(parts, "; ") + "."
	}
	switch {
	case b.HighRisk:
		d.PersonsInformed = fmt.Sprintf("The risk to persons is assessed as high (%s): the %d persons who can be identified are "+
			"informed by letter (Art. 34(1)); %d orders erased since cannot be traced to a person.", b.RiskReason, im.PersonsContactable, im.ErasedOrders)
	case b.RiskReason != "":
		d.PersonsInformed = "The risk to persons is assessed as not high, so they are not informed individually: " + b.RiskReason
	default:
		d.PersonsInformed = "The risk to persons has not been assessed yet."
	}
	return d, nil
}

//go:embed document.html
var documentHTML string

var documentTemplate = template.Must(template.New("document").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).Parse(documentHTML))

// DocumentCSP is the Content-Security-Policy of the document's page: its
// own style, nothing else.
var DocumentCSP = subjects.StyleOnlyCSP(documentHTML)

// WriteHTML writes the document as a printable page.
func (d Document) WriteHTML(w io.Writer) error { return documentTemplate.Execute(w, d) }
