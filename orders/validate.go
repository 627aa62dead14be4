package orders

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/milestone/husky/api"
)

// Field limits. They are generous for real addresses and small enough that
// no field can be used to smuggle a document through the service.
const (
	maxItems      = 100
	maxQuantity   = 1000
	maxReference  = 64
	maxNameLen    = 200
	maxLineLen    = 200
	maxCityLen    = 100
	maxPostalLen  = 20
	maxNotesLen   = 2000
	maxEmailLen   = 254
	maxLocalPart  = 64
	maxDomainPart = 253
)

// Catalog says whether a SKU is orderable.
type Catalog interface {
	Orderable(sku string) bool
}

// Decode parses and validates an order request body. Malformed JSON and
// text that is not UTF-8 are a 400 problem; otherwise every invalid or
// unknown field is reported at once in a 422 problem with a JSON pointer.
// No error message repeats a submitted value.
func Decode(body []byte, cat Catalog) (Draft, error) {
	raw, dups, err := parseJSON(body)
	if err != nil {
		return Draft{}, err
	}
	v := &validator{errs: dups}
	d := v.draft(raw, cat)
	if len(v.errs) > 0 {
		return Draft{}, api.Invalid(v.errs)
	}
	return d, nil
}

// parseJSON decodes one JSON value, keeping numbers exact, with the one
// strict parser every endpoint shares (api.ParseJSON): a key repeated in
// an object is reported as a field error.
func parseJSON(body []byte) (any, []api.FieldError, error) { return api.ParseJSON(body) }

type validator struct{ errs []api.FieldError }

func (v *validator) add(ptr, code, detail string) {
	v.errs = append(v.errs, api.FieldError{Pointer: ptr, Code: code, Detail: detail})
}

// object checks that x is an object with only the allowed keys.
func (v *validator) object(x any, ptr string, allowed ...string) (map[string]any, bool) {
	m, ok := x.(map[string]any)
	if !ok {
		if x == nil {
			v.add(ptr, "required", "is required and must be an object")
		} else {
			v.add(ptr, "type", "must be an object")
		}
		return nil, false
	}
	for k := range m {
		if !contains(allowed, k) {
			v.add(ptr+"/"+api.EscapePointer(k), "unknown_field", "is not a field of this object")
		}
	}
	return m, true
}

// text reads a string field: trimmed, checked for control characters and
// length. A missing optional field is "".
func (v *validator) text(m map[string]any, key, ptr string, required bool, maxLen int, multiline bool) string {
	x, present := m[key]
	if !present || x == nil {
		if required {
			v.add(ptr, "required", "is required")
		}
		return ""
	}
	s, ok := x.(string)
	if !ok {
		v.add(ptr, "type", "must be a string")
		return ""
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		v.add(ptr, "required", "must not be empty")
	case utf8.RuneCountInString(s) > maxLen:
		v.add(ptr, "too_long", fmt.Sprintf("must be at most %d characters", maxLen))
	case api.CheckText(s, multiline) != "":
		v.add(ptr, "invalid_characters", api.CheckText(s, multiline))
	default:
		return s
	}
	return ""
}

func (v *validator) draft(raw any, cat Catalog) Draft {
	var d Draft
	top, ok := v.object(raw, "", "reference", "customer", "ship_to", "items", "notes")
	if !ok {
		return d
	}
	d.Reference = v.text(top, "reference", "/reference", true, maxReference, false)
	d.Notes = v.text(top, "notes", "/notes", false, maxNotesLen, true)
	d.ShipTo = v.address(top["ship_to"])
	if cu, ok := v.object(top["customer"], "/customer", "name", "email", "phone"); ok {
		d.Customer.Name = v.text(cu, "name", "/customer/name", true, maxNameLen, false)
		d.Customer.Email = v.email(cu)
		d.Customer.Phone = v.phone(cu, d.ShipTo.Country)
	}
	d.Items = v.items(top["items"], cat)
	return d
}

// address validates a delivery address, every line by the same rules
// wherever an address is given (an order, a rectification).
func (v *validator) address(x any) Address {
	st, ok := v.object(x, "/ship_to", "organization", "line1", "line2", "city", "postal_code", "region", "country")
	if !ok {
		return Address{}
	}
	a := Address{
		Organization: v.text(st, "organization", "/ship_to/organization", false, maxLineLen, false),
		Line1:        v.text(st, "line1", "/ship_to/line1", true, maxLineLen, false),
		Line2:        v.text(st, "line2", "/ship_to/line2", false, maxLineLen, false),
		City:         v.text(st, "city", "/ship_to/city", true, maxCityLen, false),
		PostalCode:   v.text(st, "postal_code", "/ship_to/postal_code", true, maxPostalLen, false),
		Region:       v.text(st, "region", "/ship_to/region", false, maxCityLen, false),
	}
	c := v.text(st, "country", "/ship_to/country", true, 2, false)
	if c != "" {
		if cc := strings.ToUpper(c); isCountry(cc) {
			a.Country = cc
		} else {
			v.add("/ship_to/country", "invalid_country", "must be an ISO 3166-1 alpha-2 country code")
		}
	}
	return a
}

// email validates /customer/email: a plain mailbox.
func (v *validator) email(cu map[string]any) string {
	e := v.text(cu, "email", "/customer/email", true, maxEmailLen, false)
	if e == "" {
		return ""
	}
	if msg := checkEmail(e); msg != "" {
		v.add("/customer/email", "invalid_email", msg)
		return ""
	}
	return e
}

// phone validates /customer/phone and returns it in E.164; a national
// number is read as one of country.
func (v *validator) phone(cu map[string]any, country string) string {
	p := v.text(cu, "phone", "/customer/phone", true, 40, false)
	if p == "" {
		return ""
	}
	e164, msg := normalizePhone(p, country)
	if msg != "" {
		v.add("/customer/phone", "invalid_phone", msg)
		return ""
	}
	return e164
}

func (v *validator) items(x any, cat Catalog) []Item {
	arr, ok := x.([]any)
	switch {
	case x == nil:
		v.add("/items", "required", "at least one item is required")
		return nil
	case !ok:
		v.add("/items", "type", "must be an array")
		return nil
	case len(arr) == 0:
		v.add("/items", "required", "at least one item is required")
		return nil
	case len(arr) > maxItems:
		v.add("/items", "too_many", fmt.Sprintf("at most %d items", maxItems))
		return nil
	}
	out := make([]Item, 0, len(arr))
	seen := map[string]bool{}
	for i, el := range arr {
		ptr := fmt.Sprintf("/items/%d", i)
		m, ok := v.object(el, ptr, "sku", "quantity")
		if !ok {
			continue
		}
		sku := v.text(m, "sku", ptr+"/sku", true, 64, false)
		if sku != "" {
			switch {
			case cat != nil && !cat.Orderable(sku):
				v.add(ptr+"/sku", "unknown_sku", "is not an orderable SKU; see GET /v1/catalog")
				sku = ""
			case seen[sku]:
				v.add(ptr+"/sku", "duplicate_sku", "appears on an earlier line; raise that line's quantity instead")
				sku = ""
			}
			seen[sku] = true
		}
		q := v.quantity(m, ptr+"/quantity")
		if sku != "" && q > 0 {
			out = append(out, Item{SKU: sku, Quantity: q})
		}
	}
	return out
}

func (v *validator) quantity(m map[string]any, ptr string) int {
	x, present := m["quantity"]
	if !present || x == nil {
		v.add(ptr, "required", "is required")
		return 0
	}
	n, ok := x.(json.Number)
	if !ok {
		v.add(ptr, "type", "must be an integer")
		return 0
	}
	q, err := n.Int64()
	if err != nil {
		v.add(ptr, "type", "must be an integer")
		return 0
	}
	if q < 1 || q > maxQuantity {
		v.add(ptr, "out_of_range", fmt.Sprintf("must be between 1 and %d", maxQuantity))
		return 0
	}
	return int(q)
}

// checkEmail returns why s is not a plain mailbox address, or "".
func checkEmail(s string) string { return CheckEmail(s) }

// CheckEmail returns why s is not a plain mailbox address, or "".
func CheckEmail(s string) string {
	if len(s) > maxEmailLen {
		return fmt.Sprintf("must be at most %d characters", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "must be a plain mailbox address such as name@example.com, without a display name"
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalPart || len(domain) > maxDomainPart {
		return "local part or domain is too long"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "domain must have at least two labels"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "domain is not a valid host name"
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return "domain is not a valid host name"
			}
		}
	}
	return ""
}

// normalizePhone parses a phone number with libphonenumber's rules and
// returns it in E.164. A national number without a country code is read as
// a number of the ship-to country.
func normalizePhone(s, country string) (string, string) {
	region := country
	if region == "" {
		region = "ZZ"
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		if !strings.HasPrefix(s, "+") && country == "" {
			return "", "needs a +country code, or a valid ship_to country to resolve it against"
		}
		return "", "is not a phone number"
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", "is not a valid phone number for its country"
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
