package subjects

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
)

// TestEveryPersonalPayloadFieldHasACategory fills every field of an order,
// projects it onto every payload that carries personal data, and fails
// for any field that leaves without a category in the record of
// processing.
func TestEveryPersonalPayloadFieldHasACategory(t *testing.T) {
	t.Parallel()
	o := &orders.Order{ID: "ord_x", Reference: "r", Notes: "n",
		Customer: orders.Customer{Name: "n", Email: "e@x.dk", Phone: "+4533123456"},
		ShipTo:   orders.Address{Organization: "o", Line1: "l1", Line2: "l2", City: "c", PostalCode: "p", Region: "r", Country: "DK"},
		Items:    []orders.Item{{SKU: "s", Quantity: 1}}}
	created, _ := sharing.Project(o, partners.AllFields)
	updated, _ := sharing.ProjectUpdate(o, []string{orders.FieldName, orders.FieldEmail, orders.FieldPhone, orders.FieldAddress}, partners.AllFields)
	categorised := map[string]bool{}
	for _, c := range Categories {
		for _, p := range c.Payload {
			categorised[p] = true
		}
	}
	// Not personal: ids and what was ordered.
	plain := []string{"order_id", "items.sku", "items.quantity"}
	for name, payload := range map[string]any{"order.created": created, "order.updated": updated} {
		b, _ := json.Marshal(payload)
		var v any
		json.Unmarshal(b, &v)
		for _, key := range leaves(v, "") {
			if !categorised[key] && !slices.Contains(plain, key) {
				t.Errorf("%s carries %s, which has no category in the record of processing", name, key)
			}
		}
	}
}

// leaves returns the dotted paths of every value in v.
func leaves(v any, prefix string) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, leaves(e, p)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, leaves(e, prefix)...)
		}
		return out
	}
	return []string{prefix}
}
