package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

// ImportLine is one parsed line of `husky orders import`: a historic
// order with its original dates and state, and the recipients the earlier
// system disclosed it to.
type ImportLine struct {
	Line        int
	ResellerID  string
	CreatedAt   time.Time
	Status      Status
	ClosedAt    *time.Time
	DisclosedTo []string
	Draft       Draft
}

// importKeys are the keys an import line adds to the order body.
var importKeys = []string{"reseller_id", "created_at", "status", "closed_at", "disclosed_to"}

// ParseImportLine validates one JSON line exactly as the API validates an
// order body, plus the import fields. It returns a 422 problem listing every
// bad field.
func ParseImportLine(line []byte, cat Catalog) (ImportLine, error) {
	raw, dups, err := parseJSON(line)
	if err != nil {
		return ImportLine{}, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return ImportLine{}, api.Invalid([]api.FieldError{{Pointer: "", Code: "type", Detail: "must be an object"}})
	}
	v := &validator{errs: dups}
	var il ImportLine
	il.ResellerID = v.text(m, "reseller_id", "/reseller_id", true, 64, false)
	if s := v.text(m, "created_at", "/created_at", true, 40, false); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err != nil {
			v.add("/created_at", "invalid_time", "must be an RFC 3339 time")
		} else {
			il.CreatedAt = t.UTC()
		}
	}
	if s := v.text(m, "status", "/status", true, 20, false); s != "" {
		if il.Status = Status(s); !il.Status.Valid() {
			v.add("/status", "invalid_status", "must be a lifecycle state")
		}
	}
	if s := v.text(m, "closed_at", "/closed_at", false, 40, false); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err != nil {
			v.add("/closed_at", "invalid_time", "must be an RFC 3339 time")
		} else {
			t = t.UTC()
			il.ClosedAt = &t
		}
	}
	switch {
	case il.Status.Final() && il.ClosedAt == nil:
		v.add("/closed_at", "required", "a delivered, cancelled or rejected order needs the time it became final")
	case il.Status != "" && !il.Status.Final() && il.ClosedAt != nil:
		v.add("/closed_at", "unexpected", "only a final order has a closed_at")
	case il.ClosedAt != nil && !il.CreatedAt.IsZero() && il.ClosedAt.Before(il.CreatedAt):
		v.add("/closed_at", "before_created", "must not be before created_at")
	}
	if d, ok := m["disclosed_to"]; ok && d != nil {
		arr, ok := d.([]any)
		if !ok {
			v.add("/disclosed_to", "type", "must be an array of partner ids")
		}
		for i, x := range arr {
			id, ok := x.(string)
			if !ok || id == "" {
				v.add(fmt.Sprintf("/disclosed_to/%d", i), "type", "must be a partner id")
				continue
			}
			il.DisclosedTo = append(il.DisclosedTo, id)
		}
	}
	body := make(map[string]any, len(m))
	for k, x := range m {
		if !contains(importKeys, k) {
			body[k] = x
		}
	}
	b, _ := json.Marshal(body)
	d, err := Decode(b, cat)
	if err != nil {
		if pe, ok := err.(*api.Error); ok {
			v.errs = append(v.errs, pe.Fields...)
		} else {
			return ImportLine{}, err
		}
	}
	il.Draft = d
	if len(v.errs) > 0 {
		return ImportLine{}, api.Invalid(v.errs)
	}
	return il, nil
}

// LineError is an invalid import line.
type LineError struct {
	Line   int              `json:"line"`
	Errors []api.FieldError `json:"errors"`
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported int         `json:"imported"`
	Skipped  int         `json:"skipped"`
	Invalid  []LineError `json:"invalid,omitempty"`
	OrderIDs []string    `json:"order_ids,omitempty"`
}

// Import brings historic orders under the same clock as new ones: each gets
// its fiscal year and purge date, an audit entry, and a record of the
// recipients the earlier system disclosed it to, so that they get erasure
// notices too. No webhook is sent. Lines are validated like the API; when
// any is invalid nothing is imported unless skipInvalid. The whole file is
// one transaction.
func (s *Service) Import(ctx context.Context, actor string, data []byte, skipInvalid bool) (ImportReport, error) {
	if err := s.loadCatalog(ctx); err != nil {
		return ImportReport{}, err
	}
	var (
		rep   ImportReport
		lines []ImportLine
		refs  = map[string]int{}
	)
	for i, raw := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		il, err := ParseImportLine(raw, s)
		if err == nil {
			err = s.checkImportLine(ctx, il, refs)
		}
		if err != nil {
			rep.Invalid = append(rep.Invalid, LineError{Line: i + 1, Errors: fieldErrors(err)})
			continue
		}
		il.Line = i + 1
		refs[il.ResellerID+"\x00"+il.Draft.Reference] = i + 1
		lines = append(lines, il)
	}
	if len(rep.Invalid) > 0 && !skipInvalid {
		return rep, nil
	}
	rep.Skipped = len(rep.Invalid)
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		for _, il := range lines {
			o := &Order{ID: NewIDAt(il.CreatedAt), ResellerID: il.ResellerID, Reference: il.Draft.Reference, Status: il.Status,
				Customer: il.Draft.Customer, ShipTo: il.Draft.ShipTo, Items: il.Draft.Items, Notes: il.Draft.Notes,
				CreatedAt: il.CreatedAt, UpdatedAt: il.CreatedAt, ClosedAt: il.ClosedAt}
			if il.ClosedAt != nil {
				o.UpdatedAt = *il.ClosedAt
				s.dates(o)
			}
			s.index(o)
			if err := s.insertOrder(ctx, tx, o); err != nil {
				return err
			}
			if err := insertEvent(ctx, tx, Event{OrderID: o.ID, Time: s.Clock.Now(), Type: "order.imported", Source: actor,
				To: o.Status, Outcome: string(Applied)}); err != nil {
				return err
			}
			if err := s.record(ctx, tx, actor, "order.imported", map[string]string{"order_id": o.ID, "partner_id": o.ResellerID},
				map[string]string{"status": string(o.Status), "line": fmt.Sprint(il.Line), "source": "import"}); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, Change{Kind: ChangeImported, Order: o, Actor: actor, DisclosedTo: il.DisclosedTo}); err != nil {
				return err
			}
			rep.OrderIDs = append(rep.OrderIDs, o.ID)
		}
		return nil
	})
	if err != nil {
		return ImportReport{}, fmt.Errorf("import: %w", err)
	}
	rep.Imported = len(lines)
	return rep, nil
}

// checkImportLine checks what needs the database: the reseller, the
// recipients, and that the reference is new.
func (s *Service) checkImportLine(ctx context.Context, il ImportLine, refs map[string]int) error {
	var bad []api.FieldError
	if s.PartnerKind != nil {
		if k, err := s.PartnerKind(ctx, il.ResellerID); err != nil || k != "reseller" {
			bad = append(bad, api.FieldError{Pointer: "/reseller_id", Code: "unknown_reseller", Detail: "is not a reseller's partner id"})
		}
		for i, id := range il.DisclosedTo {
			if k, err := s.PartnerKind(ctx, id); err != nil || (k != "logistics" && k != "manufacturer") {
				bad = append(bad, api.FieldError{Pointer: fmt.Sprintf("/disclosed_to/%d", i), Code: "unknown_recipient", Detail: "is not a recipient's partner id"})
			}
		}
	}
	if line, dup := refs[il.ResellerID+"\x00"+il.Draft.Reference]; dup {
		bad = append(bad, api.FieldError{Pointer: "/reference", Code: "duplicate_reference", Detail: fmt.Sprintf("repeats line %d", line)})
	} else {
		n, err := s.rows().countByReference(ctx, il.ResellerID, s.referenceHash(il.ResellerID, il.Draft.Reference), il.Draft.Reference)
		if err != nil {
			return err
		}
		if n > 0 {
			bad = append(bad, api.FieldError{Pointer: "/reference", Code: "duplicate_reference", Detail: "an order with this reference exists"})
		}
	}
	if len(bad) > 0 {
		return api.Invalid(bad)
	}
	return nil
}

func fieldErrors(err error) []api.FieldError {
	if pe, ok := err.(*api.Error); ok {
		if len(pe.Fields) > 0 {
			return pe.Fields
		}
		return []api.FieldError{{Pointer: "", Code: pe.Code, Detail: pe.Detail}}
	}
	return []api.FieldError{{Pointer: "", Code: "invalid", Detail: "line could not be read"}}
}

// NewIDAt returns an order id whose UUIDv7 time is t, so that imported
// orders sort among the others by when they were created.
func NewIDAt(t time.Time) string { return base.NewIDAt("ord_", t) }
