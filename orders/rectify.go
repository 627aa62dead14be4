package orders

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/store"
)

// Rectification is a correction of a person's data (GDPR Art. 16): the
// customer fields given replace the stored ones, and a ship_to replaces the
// whole delivery address. Fields not given stay as they are.
type Rectification struct {
	Name, Email, Phone *string
	ShipTo             *Address
}

// The personal fields a rectification can change, as Change.Changed names
// them. Email, phone and address are the fields recipients may receive.
const (
	FieldName    = "name"
	FieldEmail   = "email"
	FieldPhone   = "phone"
	FieldAddress = "address"
)

// DecodeRectification parses and validates a rectification body,
// {"customer": {"name", "email", "phone"}, "ship_to": {…}}, exactly as an
// order's fields are validated, every problem at once. A national phone
// number is read as one of the new ship_to's country, and needs a +country
// code without one.
func DecodeRectification(body []byte) (Rectification, error) {
	raw, dups, err := parseJSON(body)
	if err != nil {
		return Rectification{}, err
	}
	v := &validator{errs: dups}
	var r Rectification
	top, ok := v.object(raw, "", "customer", "ship_to")
	if !ok {
		return r, api.Invalid(v.errs)
	}
	if _, has := top["ship_to"]; has {
		a := v.address(top["ship_to"])
		r.ShipTo = &a
	}
	if x, has := top["customer"]; has {
		if cu, ok := v.object(x, "/customer", "name", "email", "phone"); ok {
			country := ""
			if r.ShipTo != nil {
				country = r.ShipTo.Country
			}
			given := func(k string) bool { _, ok := cu[k]; return ok }
			if given("name") {
				n := v.text(cu, "name", "/customer/name", true, maxNameLen, false)
				r.Name = &n
			}
			if given("email") {
				e := v.email(cu)
				r.Email = &e
			}
			if given("phone") {
				p := v.phone(cu, country)
				r.Phone = &p
			}
			if len(cu) == 0 {
				v.add("/customer", "required", "names at least one of name, email, phone")
			}
		}
	}
	if r.Name == nil && r.Email == nil && r.Phone == nil && r.ShipTo == nil && len(v.errs) == 0 {
		v.add("", "required", "a rectification changes customer fields, ship_to, or both")
	}
	if len(v.errs) > 0 {
		return Rectification{}, api.Invalid(v.errs)
	}
	return r, nil
}

// apply returns o with r applied and the names of the fields whose value
// changed.
func (r Rectification) apply(o *Order) []string {
	var changed []string
	set := func(field string, dst *string, v *string) {
		if v != nil && *dst != *v {
			*dst = *v
			changed = append(changed, field)
		}
	}
	set(FieldName, &o.Customer.Name, r.Name)
	set(FieldEmail, &o.Customer.Email, r.Email)
	set(FieldPhone, &o.Customer.Phone, r.Phone)
	if r.ShipTo != nil && o.ShipTo != *r.ShipTo {
		o.ShipTo = *r.ShipTo
		changed = append(changed, FieldAddress)
	}
	return changed
}

// Rectified is what a rectification did to one order.
type Rectified struct {
	OrderID string   `json:"order_id"`
	Changed []string `json:"changed"`
}

// Rectify applies r to each of the orders inside tx: the new values are
// stored and indexed, the timeline and the audit trail record which fields
// changed (never their values), and the hooks tell every recipient that
// received a changed field its new value (order.updated). An erased order,
// or one where nothing changes, is left alone. It returns what changed,
// order by order.
func (s *Service) Rectify(ctx context.Context, tx *store.Tx, actor string, ids []string, r Rectification) ([]Rectified, error) {
	now := s.Clock.Now()
	out := []Rectified{}
	for _, id := range ids {
		o, err := s.getOrder(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if o.ErasedAt != nil {
			continue
		}
		changed := r.apply(o)
		if len(changed) == 0 {
			continue
		}
		s.index(o)
		o.UpdatedAt = now
		k := o.key
		if err := s.rows().rectify(ctx, tx, rectifyParams{ID: id, Personal: sealPersonal(k, o), EmailHash: o.EmailHash,
			PhoneHash: o.PhoneHash, LookupVersion: o.LookupVersion, UpdatedAt: now, Country: o.ShipTo.Country}); err != nil {
			return nil, fmt.Errorf("rectify order: %w", err)
		}
		names := strings.Join(changed, ",")
		if err := insertEvent(ctx, tx, Event{OrderID: id, Time: now, Type: "order.rectified", Source: actor,
			Outcome: string(Applied), Details: map[string]string{"changed": names}, key: k}); err != nil {
			return nil, err
		}
		if err := s.record(ctx, tx, actor, "order.rectified", map[string]string{"order_id": id},
			map[string]string{"changed": names}); err != nil {
			return nil, err
		}
		if err := s.emit(ctx, tx, Change{Kind: ChangeRectified, Order: o, Actor: actor, Changed: slices.Clone(changed)}); err != nil {
			return nil, err
		}
		out = append(out, Rectified{OrderID: id, Changed: changed})
	}
	return out, nil
}
