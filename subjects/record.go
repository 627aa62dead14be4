package subjects

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

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
	GeneratedAt  time.Time         `json:"generated_at"`
	Controller   Controller        `json:"controller"`
	Purpose      string            `json:"purpose"`
	LegalBasis   string            `json:"legal_basis"`
	DataSubjects []string          `json:"categories_of_data_subjects"`
	Data         []FieldCategory   `json:"categories_of_personal_data"`
	Recipients   []RecordRecipient `json:"recipients"`
	Retention    RecordRetention   `json:"retention"`
	Measures     []string          `json:"technical_and_organisational_measures"`
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
}

// Measures are the technical measures the service applies (Art. 32).
var Measures = []string{
	"Minimal disclosure: each recipient has an allow-list that is a subset of phone, email and delivery address; the code cannot be configured to send more.",
	"Signed webhooks (Standard Webhooks, HMAC-SHA256) with per-recipient secrets, sealed at rest with AES-256-GCM; callbacks must be signed by the recipient.",
	"A tamper-evident audit trail (a Merkle tree with signed checkpoints) of every disclosure, change and administrative action, holding no personal values.",
	"Erasure five years after the end of the fiscal year in which an order closed: every copy in the database, the write-ahead log checkpointed, every recipient notified; erasure on request where bookkeeping allows.",
	"Restriction of sharing on request: deliveries carrying the person's data wait until it is lifted.",
	"API keys per role, stored as hashes, rate-limited; webhook endpoints on internal addresses refused; HTTPS.",
	"The database and its key files readable by their owner only; personal data never in a log line, an error message or a URL.",
}

// Record writes the record of processing from the partners and the fiscal
// calendar configured now.
func (s *Service) Record(ctx context.Context, cal retention.Calendar) (RecordOfProcessing, error) {
	ps, err := s.Partners.List(ctx)
	if err != nil {
		return RecordOfProcessing{}, err
	}
	rec := RecordOfProcessing{GeneratedAt: s.Clock.Now(), Controller: DefaultController, Purpose: Purpose, LegalBasis: LegalBasis,
		DataSubjects: []string{"contact persons of the end customers for whom partner resellers order Husky hardware"},
		Data:         Categories, Recipients: []RecordRecipient{}, Measures: Measures,
		Retention: RecordRetention{Rule: RetentionRule(cal), FiscalYearStart: cal.StartMonth.String(), TimeZone: cal.Location.String(),
			Years: cal.Years}}
	for _, p := range ps {
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
	fmt.Fprintf(&b, "## Controller\n\n%s, %s. Contact: %s.\n\n", r.Controller.Name, r.Controller.Address, r.Controller.Contact)
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
	fmt.Fprintf(&b, "\n## Recipients\n\n| recipient | kind | country | transfer safeguard | fields |\n| --- | --- | --- | --- | --- |\n")
	for _, p := range r.Recipients {
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s |\n", p.Name, p.PartnerID, p.Kind, p.Country, p.Transfer, strings.Join(p.Fields, ", "))
	}
	fmt.Fprintf(&b, "\n## Retention\n\n%s\n\n## Technical and organisational measures\n\n", r.Retention.Rule)
	for _, m := range r.Measures {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
