package subjects

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
)

// FieldCategory is one kind of personal data the service holds, its
// category, and the webhook payload fields that carry it (none for what
// never leaves).
type FieldCategory struct {
	Field    string   `json:"field"`
	Category string   `json:"category"`
	Payload  []string `json:"payload,omitempty"`
}

// Categories is every personal field the service stores, with its category
// of personal data (Art. 30(1)(c)) and the payload fields that carry it. A
// test holds it against the payloads: a personal field that reaches a
// webhook without a category here fails it.
var Categories = []FieldCategory{
	{Field: "customer.name", Category: "identification: the contact person's name (never disclosed)"},
	{Field: "customer.email", Category: "contact details: email address", Payload: []string{"contact.email"}},
	{Field: "customer.phone", Category: "contact details: phone number", Payload: []string{"contact.phone"}},
	{Field: "ship_to", Category: "location: delivery address, the organisation line included", Payload: []string{
		"address.organization", "address.line1", "address.line2", "address.city", "address.postal_code", "address.region", "address.country"}},
	{Field: "reference", Category: "the reseller's order reference, which may name a person (never disclosed)"},
	{Field: "notes", Category: "free text for the reseller's own use (never disclosed)"},
	{Field: "recipient_messages", Category: "free text recipients send about the order"},
	{Field: "shipments", Category: "shipment details: carrier, tracking number and link"},
	{Field: "close_reason", Category: "free text an operator gives when closing an order"},
	{Field: "subject_requests", Category: "keyed hashes of the email and phone a data-subject request names"},
}

// RecordOfProcessing is the record of Art. 30, written from the running
// configuration, never by hand.
type RecordOfProcessing struct {
	GeneratedAt  time.Time       `json:"generated_at"`
	Controller   Controller      `json:"controller"`
	Purpose      string          `json:"purpose"`
	LegalBasis   string          `json:"legal_basis"`
	DataSubjects []string        `json:"categories_of_data_subjects"`
	Data         []FieldCategory `json:"categories_of_personal_data"`
	// Sources are where the personal data comes from (Art. 14(2)(f)): the
	// resellers, who submit the orders.
	Sources    []RecordSource    `json:"sources"`
	Recipients []RecordRecipient `json:"recipients"`
	Retention  RecordRetention   `json:"retention"`
	Measures   []string          `json:"technical_and_organisational_measures"`
}

// RecordSource is a reseller as the record names it.
type RecordSource struct {
	PartnerID string `json:"partner_id"`
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
}

// Setup is what the record of processing, the exports and the replies
// state from the running configuration rather than from the code.
type Setup struct {
	// Controller is who is responsible, with the contact for privacy
	// matters and the data-protection officer's (HUSKY_CONTROLLER_*,
	// HUSKY_DPO_CONTACT).
	Controller Controller
	// Measures are the measures in force that depend on the
	// configuration: transport encryption as configured, the keys and
	// their rotation.
	Measures []string
	// Demo allows placeholders (husky serve --demo).
	Demo bool
}

// ErrRecordIncomplete refuses a record of processing that would give a
// placeholder for who to contact.
var ErrRecordIncomplete = api.New(http.StatusConflict, "record_incomplete",
	"the record of processing needs the controller's privacy contact and the data-protection officer's: set HUSKY_CONTROLLER_CONTACT and HUSKY_DPO_CONTACT")

// placeholderContact is what exports and replies say while no contact is
// configured.
const placeholderContact = "the data-protection officer, through the privacy policy's contact address"

// controller is the controller as configured, with the placeholder contact
// where none is.
func (s *Service) controller() Controller {
	c := s.Setup.Controller
	if c.Name == "" {
		c.Name, c.Address = DefaultController.Name, DefaultController.Address
	}
	if c.Contact == "" {
		c.Contact = placeholderContact
	}
	return c
}

// RecordRecipient is a recipient as the record names it.
type RecordRecipient struct {
	PartnerID string   `json:"partner_id"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Country   string   `json:"country"`
	Transfer  string   `json:"transfer_safeguard"`
	Fields    []string `json:"fields"`
	Enabled   bool     `json:"enabled"`
}

// RecordRetention is the retention rule with the fiscal calendar in force.
type RecordRetention struct {
	Rule            string `json:"rule"`
	FiscalYearStart string `json:"fiscal_year_start"`
	TimeZone        string `json:"time_zone"`
	Years           int    `json:"years_after_fiscal_year"`
	// Purpose and LegalBasis are why the data is kept after the order is
	// done: bookkeeping, a legal obligation.
	Purpose    string `json:"purpose"`
	LegalBasis string `json:"legal_basis"`
	// Requests is how long the records of a completed data-subject
	// request are kept.
	Requests string `json:"subject_requests"`
}

// What keeping an order after fulfilment is for, and its basis.
const (
	RetentionPurpose    = "Bookkeeping: an order is part of the accounting material that must be kept and available to the authorities."
	RetentionLegalBasis = "GDPR Art. 6(1)(c), a legal obligation: the Danish Bookkeeping Act (bogføringsloven) requires accounting material to be kept for 5 years from the end of the financial year it concerns."
)

// Measures are the technical measures every installation applies (Art.
// 32); Setup.Measures adds those that depend on its configuration.
var Measures = []string{
	"Minimal disclosure: each recipient has an allow-list that is a subset of phone, email and delivery address; the code cannot be configured to send more.",
	"Signed webhooks (Standard Webhooks, HMAC-SHA256) with per-recipient secrets, sealed at rest with AES-256-GCM; callbacks must be signed by the recipient.",
	"Encryption at rest per order: every personal value is sealed (AES-256-GCM) under a data key of its own order, wrapped by a master key; erasure destroys the data key, so it reaches every copy, backups included, once the master key that wrapped it is pruned.",
	"A tamper-evident audit trail (a Merkle tree with signed checkpoints) of every disclosure, change and administrative action, holding no personal values.",
	"Erasure at the end of the retention period: every copy in the database, every recipient notified and reminded until it confirms; erasure on request where bookkeeping allows.",
	"Restriction of sharing on request: deliveries carrying the person's data wait until it is lifted.",
	"A breach register (Art. 33(5)): each breach with what it touched, counted from the records of every disclosure and acknowledged erasure, its 72-hour notification deadline, the notification to the authority and, where the risk is high, a letter to each person (Art. 34).",
	"API keys per role, stored as hashes, rate-limited; console sessions that end when idle; webhook endpoints on internal addresses refused.",
	"Personal data never in a log line, an error message, a URL or the audit trail; lookups by keyed hashes, whose key is rotated and pruned like the master keys.",
}

// Record writes the record of processing from the partners and the fiscal
// calendar configured now.
func (s *Service) Record(ctx context.Context, cal retention.Calendar) (RecordOfProcessing, error) {
	ps, err := s.Partners.List(ctx)
	if err != nil {
		return RecordOfProcessing{}, err
	}
	demo := s.Setup.Demo
	for _, p := range ps {
		demo = demo || p.Demo
	}
	if !demo && (s.Setup.Controller.Contact == "" || s.Setup.Controller.DPO == "") {
		return RecordOfProcessing{}, ErrRecordIncomplete
	}
	rec := RecordOfProcessing{GeneratedAt: s.Clock.Now(), Controller: s.controller(), Purpose: Purpose, LegalBasis: LegalBasis,
		DataSubjects: []string{"contact persons of the end customers for whom partner resellers order Husky hardware"},
		Data:         Categories, Sources: []RecordSource{}, Recipients: []RecordRecipient{},
		Measures: append(slices.Clone(Measures), s.Setup.Measures...),
		Retention: RecordRetention{Rule: RetentionRule(cal), FiscalYearStart: cal.StartMonth.String(), TimeZone: cal.Location.String(),
			Years: cal.Years, Purpose: RetentionPurpose, LegalBasis: RetentionLegalBasis,
			Requests: fmt.Sprintf("A data-subject request's records (its steps and the keyed hashes of the identifiers it names) are kept %d years "+
				"after it is completed (the limitation period), then deleted by the purge; longer only while it still restricts sharing, "+
				"has an erasure scheduled or covers an order under a legal hold.", s.requestYears())}}
	if demo && rec.Controller.DPO == "" {
		rec.Controller.DPO = "(demo: set HUSKY_DPO_CONTACT)"
	}
	for _, p := range ps {
		if p.Kind == partners.KindReseller {
			rec.Sources = append(rec.Sources, RecordSource{PartnerID: p.ID, Name: p.Name, Enabled: p.Enabled})
		}
		if !p.Kind.IsRecipient() {
			continue
		}
		fields := make([]string, len(p.Fields))
		for i, f := range p.Fields {
			fields[i] = string(f)
		}
		rec.Recipients = append(rec.Recipients, RecordRecipient{PartnerID: p.ID, Name: p.Name, Kind: string(p.Kind),
			Country: p.Country, Transfer: p.Safeguard(), Fields: fields, Enabled: p.Enabled})
	}
	sort.Slice(rec.Recipients, func(i, j int) bool { return rec.Recipients[i].PartnerID < rec.Recipients[j].PartnerID })
	sort.Slice(rec.Sources, func(i, j int) bool { return rec.Sources[i].PartnerID < rec.Sources[j].PartnerID })
	return rec, nil
}

// RetentionRule states the retention rule of cal in words.
func RetentionRule(cal retention.Calendar) string {
	return fmt.Sprintf("Kept until the end of the fiscal year in which the order reached its final state (delivered, cancelled or "+
		"rejected), plus %d years (the Danish Bookkeeping Act), then erased everywhere; the fiscal year starts on 1 %s, in the %s time zone. "+
		"Orders under a legal hold are kept until it is released.", cal.Years, cal.StartMonth, cal.Location)
}

// WriteMarkdown writes the record as a Markdown document.
func (r RecordOfProcessing) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Record of processing (GDPR Art. 30)\n\nGenerated from the running configuration on %s.\n\n",
		r.GeneratedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "## Controller\n\n%s, %s. Contact: %s. Data-protection officer: %s.\n\n", r.Controller.Name, r.Controller.Address,
		r.Controller.Contact, r.Controller.DPO)
	fmt.Fprintf(&b, "## Purpose and legal basis\n\n%s\n\n%s\n\n", r.Purpose, r.LegalBasis)
	fmt.Fprintf(&b, "## Categories of data subjects\n\n")
	for _, d := range r.DataSubjects {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	fmt.Fprintf(&b, "\n## Categories of personal data\n\n| field | category | sent as |\n| --- | --- | --- |\n")
	for _, c := range r.Data {
		sent := strings.Join(c.Payload, ", ")
		if sent == "" {
			sent = "never sent"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Field, c.Category, sent)
	}
	fmt.Fprintf(&b, "\n## Sources\n\nThe partner resellers, who submit the orders:\n\n")
	for _, src := range r.Sources {
		fmt.Fprintf(&b, "- %s (%s)\n", src.Name, src.PartnerID)
	}
	fmt.Fprintf(&b, "\n## Recipients\n\n| recipient | kind | country | transfer safeguard | fields |\n| --- | --- | --- | --- | --- |\n")
	for _, p := range r.Recipients {
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s |\n", p.Name, p.PartnerID, p.Kind, p.Country, p.Transfer, strings.Join(p.Fields, ", "))
	}
	fmt.Fprintf(&b, "\n## Retention\n\n%s\n\n%s %s\n\n%s\n\n## Technical and organisational measures\n\n", r.Retention.Rule,
		r.Retention.Purpose, r.Retention.LegalBasis, r.Retention.Requests)
	for _, m := range r.Measures {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
