package sharing

import (
	"slices"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
)

// Envelope is the webhook body of DESIGN.md: type, timestamp, data.
type Envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Disclosure is the data of order.created: the order id and items, which are
// not personal, and only the personal fields the recipient's allow-list
// names. Art. 5(1)(c): only phone, email and address ever leave.
type Disclosure struct {
	OrderID string        `json:"order_id"`
	Items   []orders.Item `json:"items"`
	Contact *Contact      `json:"contact,omitempty"`
	Address *Address      `json:"address,omitempty"`
}

// Contact holds the allowed contact fields.
type Contact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Address is the delivery address. Its organisation line is part of it.
type Address struct {
	Organization string `json:"organization,omitempty"`
	Line1        string `json:"line1"`
	Line2        string `json:"line2,omitempty"`
	City         string `json:"city"`
	PostalCode   string `json:"postal_code"`
	Region       string `json:"region,omitempty"`
	Country      string `json:"country"`
}

// OrderRef is the data of order.cancelled and order.erased: ids only.
type OrderRef struct {
	OrderID string `json:"order_id"`
}

// Project returns what a recipient with the given allow-list may see of o.
// It copies field by field from an explicit list: nothing reaches the
// result by default, so a new field on Order cannot leak. The second result
// names the personal fields actually disclosed.
func Project(o *orders.Order, allow []partners.Field) (Disclosure, []partners.Field) {
	d := Disclosure{OrderID: o.ID, Items: slices.Clone(o.Items)}
	if d.Items == nil {
		d.Items = []orders.Item{}
	}
	var sent []partners.Field
	has := func(f partners.Field) bool { return slices.Contains(allow, f) }
	if has(partners.FieldPhone) && o.Customer.Phone != "" {
		d.Contact = &Contact{Phone: o.Customer.Phone}
		sent = append(sent, partners.FieldPhone)
	}
	if has(partners.FieldEmail) && o.Customer.Email != "" {
		if d.Contact == nil {
			d.Contact = &Contact{}
		}
		d.Contact.Email = o.Customer.Email
		sent = append(sent, partners.FieldEmail)
	}
	if has(partners.FieldAddress) && o.ShipTo.Line1 != "" {
		a := o.ShipTo
		d.Address = &Address{Organization: a.Organization, Line1: a.Line1, Line2: a.Line2, City: a.City,
			PostalCode: a.PostalCode, Region: a.Region, Country: a.Country}
		sent = append(sent, partners.FieldAddress)
	}
	return d, sent
}
