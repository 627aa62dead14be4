package subjects

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
)

// Controller is who is responsible for the processing (Art. 4(7)), as an
// access export and the record of processing name it.
type Controller struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Contact string `json:"contact"`
	// DPO is how to reach the data-protection officer (Art. 13(1)(b)).
	DPO string `json:"dpo_contact,omitempty"`
}

// DefaultController is Milestone Systems A/S.
var DefaultController = Controller{Name: "Milestone Systems A/S", Address: "Banemarksvej 50, 2605 Brøndby, Denmark",
	Contact: placeholderContact}

// What every export and the record of processing state about the
// processing: its purpose and its legal basis with the interest named.
const (
	Purpose    = "Fulfilment of the Husky order placed for you through a Milestone reseller: the logistics partner delivers it, and the hardware manufacturer handles its warranty and support."
	LegalBasis = "GDPR Art. 6(1)(f), legitimate interest: delivering the goods ordered for you and supporting them; your phone, email and delivery address let the carrier and the manufacturer reach you about this order, and nothing else is shared."
	// Authority is the supervisory authority a person may complain to
	// (Art. 77).
	Authority   = "Datatilsynet, the Danish Data Protection Agency (Carl Jacobsens Vej 35, 2500 Valby, Denmark; www.datatilsynet.dk), or the authority where you live or work"
	Portability = "The right to data portability (Art. 20) applies to processing based on consent or a contract; this processing rests on legitimate interest (Art. 6(1)(f)), so it does not apply. Your data is given here in JSON anyway."
)

// Rights are the rights a person has, as an export states them.
var Rights = []string{
	"Access (Art. 15): this export.",
	"Rectification (Art. 16): ask us to correct what is wrong; every recipient that received it is told.",
	"Erasure (Art. 17): ask us to erase what bookkeeping does not require us to keep; every recipient is told.",
	"Restriction (Art. 18): ask us to stop sharing your data while a question about it is settled; every recipient is told.",
	"Objection (Art. 21): object to the processing; we stop sharing until it is decided.",
	"Complaint (Art. 77): complain to " + Authority + ".",
}

// Export is the answer to an access request (Art. 15).
type Export struct {
	RequestID   string        `json:"request_id"`
	GeneratedAt time.Time     `json:"generated_at"`
	Controller  Controller    `json:"controller"`
	Orders      []ExportOrder `json:"orders"`
	Rights      []string      `json:"rights"`
	Portability string        `json:"portability"`
	// Total counts the orders of the whole export; Orders is one page of
	// them, HasMore and NextCursor lead to the next.
	Total      int    `json:"total"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ExportOrder is everything held about the person in one order.
type ExportOrder struct {
	OrderID    string      `json:"order_id"`
	Status     string      `json:"status"`
	CreatedAt  time.Time   `json:"created_at"`
	ClosedAt   *time.Time  `json:"closed_at,omitempty"`
	Source     Party       `json:"source"`
	Data       HeldData    `json:"data"`
	Purpose    string      `json:"purpose"`
	LegalBasis string      `json:"legal_basis"`
	Recipients []Recipient `json:"recipients"`
	Erasure    Erasure     `json:"erasure"`
}

// Party names a reseller or a recipient.
type Party struct {
	PartnerID string `json:"partner_id"`
	Name      string `json:"name"`
	// Role says what the party is to the person's data.
	Role string `json:"role"`
}

// HeldData is every personal value the service holds in an order.
type HeldData struct {
	Reference string             `json:"reference"`
	Customer  orders.Customer    `json:"customer"`
	ShipTo    orders.Address     `json:"ship_to"`
	Notes     string             `json:"notes,omitempty"`
	Items     []orders.Item      `json:"items"`
	Messages  []RecipientMessage `json:"recipient_messages,omitempty"`
	Shipments []orders.Shipment  `json:"shipments,omitempty"`
}

// RecipientMessage is free text a recipient wrote about the order.
type RecipientMessage struct {
	PartnerID string `json:"partner_id"`
	Message   string `json:"message"`
}

// Recipient is one recipient of the order's data, from the disclosure
// records: what it actually received, and when (CJEU C-154/21).
type Recipient struct {
	Party
	Country     string       `json:"country"`
	Safeguard   string       `json:"transfer_safeguard"`
	Disclosures []Disclosure `json:"disclosures"`
}

// Disclosure is one message that carried the person's data, and what
// became of it: delivered (the recipient acknowledged it), pending (not
// yet acknowledged; a failed attempt may still have reached it), or failed
// (given up on; it may still have reached the recipient).
type Disclosure struct {
	Event       string     `json:"event"`
	Fields      []string   `json:"fields"`
	QueuedAt    time.Time  `json:"queued_at"`
	Status      string     `json:"status"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// HTTPStatus is the recipient's answer to the last attempt of one
	// not delivered, if it answered.
	HTTPStatus *int `json:"last_http_status,omitempty"`
	// Imported: an earlier system disclosed it, when the order was placed.
	Imported bool `json:"imported,omitempty"`
}

// The states of a disclosure in an export.
const (
	DisclosureDelivered = "delivered"
	DisclosurePending   = "pending"
	DisclosureFailed    = "failed"
)

// disclosureOf states what became of one delivery.
func disclosureOf(d sharing.Disclosed) Disclosure {
	out := Disclosure{Event: d.Event, Fields: strings.Split(d.Fields, ","), QueuedAt: d.At, DeliveredAt: d.Delivered, Imported: d.Imported}
	switch d.Status {
	case sharing.StatusDelivered:
		out.Status = DisclosureDelivered
	case sharing.StatusDead:
		out.Status, out.HTTPStatus = DisclosureFailed, d.LastStatus
	default:
		out.Status, out.HTTPStatus = DisclosurePending, d.LastStatus
	}
	if d.Imported {
		out.Fields = []string{"disclosed by the earlier system; the fields are not recorded"}
	}
	return out
}

// Erasure says when the order's data will be erased.
type Erasure struct {
	Date *time.Time `json:"date,omitempty"`
	Rule string     `json:"rule"`
}

// Export writes the access export of a request, of the orders it covers
// only, and records, in the same transaction, that each order's personal
// data was read for it. A request whose type has no export answers 409.
//
// A person may have thousands of orders, so the export comes a page at a
// time: at most limit orders (PageSize by default) after order id after,
// and the audit trail records the page, once, with its order count and
// its first and last order (the step lists every order id).
func (s *Service) Export(ctx context.Context, actor, id, after string, limit int) (_ Export, err error) {
	ctx, span := tracing.Start(ctx, "subjects.export", trace.SpanKindInternal, attribute.String("husky.request_id", id))
	defer func() { tracing.End(span, err) }()
	if limit <= 0 || limit > PageSize {
		limit = PageSize
	}
	ps, err := s.Partners.List(ctx)
	if err != nil {
		return Export{}, err
	}
	byID := map[string]partners.Partner{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	out := Export{RequestID: id, GeneratedAt: s.Clock.Now(), Controller: s.controller(), Orders: []ExportOrder{},
		Rights: Rights, Portability: Portability}
	var held []*orders.Order
	underHold := map[string]bool{}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		// Only the orders the request covers: one that needs review may be
		// another person's.
		_, all, err := s.acting(ctx, tx, actor, id, ActionExport)
		if err != nil {
			return err
		}
		found, more, next := page(all, after, limit)
		out.HasMore, out.NextCursor, out.Total = more, next, len(all)
		for _, f := range found {
			o, err := s.Orders.GetTx(ctx, tx, f.OrderID)
			if err != nil {
				return err
			}
			held = append(held, o)
			underHold[o.ID] = f.Held
		}
		ids := orderIDs(found)
		details := map[string]string{"route": "subject_export", "orders": fmt.Sprint(len(ids))}
		if len(ids) > 0 {
			details["first_order_id"], details["last_order_id"] = ids[0], ids[len(ids)-1]
		}
		if err := s.Audit.Record(ctx, tx, actor, "subject.export_viewed", map[string]string{"request_id": id}, details); err != nil {
			return err
		}
		return s.addStep(ctx, tx, id, actor, "exported", map[string]any{"orders": ids})
	})
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	ids := make([]string, len(held))
	for i, o := range held {
		ids[i] = o.ID
	}
	disclosed, err := s.Disclosures.Disclosures(ctx, ids)
	if err != nil {
		return Export{}, err
	}
	byOrder := map[string][]sharing.Disclosed{}
	for _, d := range disclosed {
		byOrder[d.OrderID] = append(byOrder[d.OrderID], d)
	}
	for _, o := range held {
		out.Orders = append(out.Orders, s.exportOrder(o, underHold[o.ID], byID, byOrder[o.ID]))
	}
	return out, nil
}

func (s *Service) exportOrder(o *orders.Order, underHold bool, byID map[string]partners.Partner, disclosed []sharing.Disclosed) ExportOrder {
	e := ExportOrder{OrderID: o.ID, Status: string(o.Status), CreatedAt: o.CreatedAt, ClosedAt: o.ClosedAt,
		Source: Party{PartnerID: o.ResellerID, Name: byID[o.ResellerID].Name, Role: "the reseller you ordered through (the source of this data, Art. 15(1)(g))"},
		Data: HeldData{Reference: o.Reference, Customer: o.Customer, ShipTo: o.ShipTo, Notes: o.Notes, Items: o.Items,
			Shipments: o.Shipments},
		Purpose: Purpose, LegalBasis: LegalBasis, Recipients: []Recipient{}}
	for _, a := range o.Recipients {
		if a.Message != "" {
			e.Data.Messages = append(e.Data.Messages, RecipientMessage{PartnerID: a.PartnerID, Message: a.Message})
		}
	}
	recips := map[string]*Recipient{}
	var order []string
	for _, d := range disclosed {
		r, ok := recips[d.PartnerID]
		if !ok {
			p := byID[d.PartnerID]
			r = &Recipient{Party: Party{PartnerID: p.ID, Name: p.Name, Role: recipientRole(p.Kind)}, Country: p.Country,
				Safeguard: p.Safeguard(), Disclosures: []Disclosure{}}
			recips[d.PartnerID] = r
			order = append(order, d.PartnerID)
		}
		r.Disclosures = append(r.Disclosures, disclosureOf(d))
	}
	sort.Strings(order)
	for _, id := range order {
		e.Recipients = append(e.Recipients, *recips[id])
	}
	switch {
	case underHold:
		e.Erasure = Erasure{Rule: "kept under a legal hold until it is released, then erased under the rule below. " + s.Retention}
	case o.PurgeAfter != nil:
		d := *o.PurgeAfter
		e.Erasure = Erasure{Date: &d, Rule: s.Retention}
	default:
		e.Erasure = Erasure{Rule: "the order is not closed yet. " + s.Retention}
	}
	return e
}

func recipientRole(k partners.Kind) string {
	switch k {
	case partners.KindLogistics:
		return "logistics partner: delivers the order"
	case partners.KindManufacturer:
		return "hardware manufacturer: warranty and support"
	}
	return string(k)
}

//go:embed export.html
var exportHTML string

var exportTemplate = template.Must(template.New("export").Funcs(template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.Format("2 January 2006")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.Format("2 January 2006")
		}
		return ""
	},
	"join": strings.Join,
}).Parse(exportHTML))

// ExportCSP is the export page's Content-Security-Policy: nothing but its
// own inline stylesheet, allowed by its hash, and no script.
var ExportCSP = StyleOnlyCSP(exportHTML)

// StyleOnlyCSP allows a page's one inline stylesheet, by its hash, and
// nothing else: the policy of every printable page.
func StyleOnlyCSP(page string) string {
	start := strings.Index(page, "<style>") + len("<style>")
	end := strings.Index(page, "</style>")
	sum := sha256.Sum256([]byte(page[start:end]))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// WriteHTML writes the export as a printable page a DPO can send as it is.
func (e Export) WriteHTML(w io.Writer) error { return exportTemplate.Execute(w, e) }
