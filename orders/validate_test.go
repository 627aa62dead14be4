package orders

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/milestone/husky/api"
)

type skuSet map[string]bool

func (s skuSet) Orderable(sku string) bool { return s[sku] }

var testCatalog = skuSet{"HE700R-32TB": true, "HE150D-4TB": true}

// body returns the valid sample order with the given top-level changes; a
// nil value deletes the key.
func body(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../testdata/orders/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sub(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

func TestDecodeAcceptsValidOrders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(m map[string]any)
		wantPhone string
	}{
		{"accepts_sample", nil, "+4533123456"},
		{"resolves_national_phone_against_ship_to_country", func(m map[string]any) { sub(m, "customer")["phone"] = "33 12 34 56" }, "+4533123456"},
		{"resolves_national_phone_for_other_country", func(m map[string]any) {
			sub(m, "customer")["phone"] = "030 123456"
			sub(m, "ship_to")["country"] = "DE"
		}, "+4930123456"},
		{"accepts_lowercase_country", func(m map[string]any) { sub(m, "ship_to")["country"] = "dk" }, "+4533123456"},
		{"accepts_missing_optional_fields", func(m map[string]any) {
			delete(m, "notes")
			delete(sub(m, "ship_to"), "organization")
			delete(sub(m, "ship_to"), "line2")
		}, "+4533123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Decode(body(t, tt.edit), testCatalog)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d.Customer.Phone != tt.wantPhone {
				t.Errorf("phone = %q, want %q", d.Customer.Phone, tt.wantPhone)
			}
			if d.ShipTo.Country != "DK" && d.ShipTo.Country != "DE" {
				t.Errorf("country = %q", d.ShipTo.Country)
			}
		})
	}
}

func TestDecodeReportsEveryInvalidField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(m map[string]any)
		want map[string]string // pointer -> code
	}{
		{"rejects_missing_reference", func(m map[string]any) { delete(m, "reference") }, map[string]string{"/reference": "required"}},
		{"rejects_long_reference", func(m map[string]any) { m["reference"] = strings.Repeat("x", 65) }, map[string]string{"/reference": "too_long"}},
		{"rejects_email_with_display_name", func(m map[string]any) { sub(m, "customer")["email"] = "Jane <jane@example.dk>" }, map[string]string{"/customer/email": "invalid_email"}},
		{"rejects_email_without_domain_dot", func(m map[string]any) { sub(m, "customer")["email"] = "jane@localhost" }, map[string]string{"/customer/email": "invalid_email"}},
		{"rejects_email_too_long", func(m map[string]any) {
			sub(m, "customer")["email"] = strings.Repeat("a", 65) + "@example.dk"
		}, map[string]string{"/customer/email": "invalid_email"}},
		{"rejects_not_an_email", func(m map[string]any) { sub(m, "customer")["email"] = "jane.example.dk" }, map[string]string{"/customer/email": "invalid_email"}},
		{"rejects_invalid_phone", func(m map[string]any) { sub(m, "customer")["phone"] = "+45 12" }, map[string]string{"/customer/phone": "invalid_phone"}},
		{"rejects_letters_as_phone", func(m map[string]any) { sub(m, "customer")["phone"] = "call me" }, map[string]string{"/customer/phone": "invalid_phone"}},
		{"rejects_unknown_country", func(m map[string]any) { sub(m, "ship_to")["country"] = "XX" }, map[string]string{"/ship_to/country": "invalid_country"}},
		{"rejects_three_letter_country", func(m map[string]any) { sub(m, "ship_to")["country"] = "DNK" }, map[string]string{"/ship_to/country": "too_long"}},
		{"rejects_missing_address_lines", func(m map[string]any) {
			st := sub(m, "ship_to")
			delete(st, "line1")
			st["city"] = " "
			delete(st, "postal_code")
		}, map[string]string{"/ship_to/line1": "required", "/ship_to/city": "required", "/ship_to/postal_code": "required"}},
		{"rejects_no_items", func(m map[string]any) { m["items"] = []any{} }, map[string]string{"/items": "required"}},
		{"rejects_unknown_sku", func(m map[string]any) { m["items"] = []any{map[string]any{"sku": "HE9999", "quantity": 1}} }, map[string]string{"/items/0/sku": "unknown_sku"}},
		{"rejects_quantity_zero", func(m map[string]any) { m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": 0}} }, map[string]string{"/items/0/quantity": "out_of_range"}},
		{"rejects_quantity_over_1000", func(m map[string]any) { m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": 1001}} }, map[string]string{"/items/0/quantity": "out_of_range"}},
		{"rejects_fractional_quantity", func(m map[string]any) { m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": 1.5}} }, map[string]string{"/items/0/quantity": "type"}},
		{"rejects_string_quantity", func(m map[string]any) { m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": "2"}} }, map[string]string{"/items/0/quantity": "type"}},
		{"rejects_duplicate_sku", func(m map[string]any) {
			m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": 1}, map[string]any{"sku": "HE700R-32TB", "quantity": 1}}
		}, map[string]string{"/items/1/sku": "duplicate_sku"}},
		{"rejects_unknown_fields_at_every_level", func(m map[string]any) {
			m["discount"] = 10
			sub(m, "customer")["birthday"] = "1990-01-01"
			m["items"] = []any{map[string]any{"sku": "HE700R-32TB", "quantity": 1, "price": 5}}
		}, map[string]string{"/discount": "unknown_field", "/customer/birthday": "unknown_field", "/items/0/price": "unknown_field"}},
		{"rejects_control_characters", func(m map[string]any) { sub(m, "customer")["name"] = "Jane\x00Doe" }, map[string]string{"/customer/name": "invalid_characters"}},
		{"rejects_wrong_types", func(m map[string]any) { m["customer"] = "Jane"; m["ship_to"] = []any{} }, map[string]string{"/customer": "type", "/ship_to": "type"}},
		{"reports_all_at_once", func(m map[string]any) {
			delete(m, "reference")
			sub(m, "customer")["email"] = "nope"
			sub(m, "ship_to")["country"] = "ZZ"
		}, map[string]string{"/reference": "required", "/customer/email": "invalid_email", "/ship_to/country": "invalid_country"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(body(t, tt.edit), testCatalog)
			d := api.From(err)
			if d.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d (%v), want 422", d.Status, err)
			}
			got := map[string]string{}
			for _, fe := range d.Errors {
				got[fe.Pointer] = fe.Code
			}
			for ptr, code := range tt.want {
				if got[ptr] != code {
					t.Errorf("pointer %s: code %q, want %q (all: %v)", ptr, got[ptr], code, got)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d errors %v, want %d", len(got), got, len(tt.want))
			}
		})
	}
}

func TestDecodeRefusesMalformedBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want int
	}{
		{"rejects_malformed_json", `{"reference":`, http.StatusBadRequest},
		{"rejects_trailing_garbage", `{} {}`, http.StatusBadRequest},
		{"rejects_empty_body", ``, http.StatusBadRequest},
		{"rejects_non_utf8", "{\"reference\":\"\xff\xfe\"}", http.StatusBadRequest},
		{"rejects_array_body", `[]`, http.StatusUnprocessableEntity},
		{"rejects_null_body", `null`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.body), testCatalog)
			if got := api.From(err).Status; got != tt.want {
				t.Errorf("status = %d, want %d (%v)", got, tt.want, err)
			}
		})
	}
}

func TestErrorsNeverEchoSubmittedValues(t *testing.T) {
	t.Parallel()
	secret := "zz-distinctive-9f3a"
	b := body(t, func(m map[string]any) {
		sub(m, "customer")["email"] = secret + "@@"
		sub(m, "customer")["phone"] = secret
		sub(m, "ship_to")["country"] = secret
		m["reference"] = strings.Repeat(secret, 10)
	})
	_, err := Decode(b, testCatalog)
	out, _ := json.Marshal(api.From(err))
	if strings.Contains(string(out), secret) {
		t.Fatalf("problem details echo a submitted value: %s", out)
	}
}

func TestCountryListIsISO3166(t *testing.T) {
	t.Parallel()
	if n := len(countries); n != 249 {
		t.Errorf("%d country codes, want the 249 officially assigned", n)
	}
	for _, c := range []string{"DK", "DE", "US", "GB", "SE", "NO", "AX", "SS"} {
		if !isCountry(c) {
			t.Errorf("%s missing", c)
		}
	}
}
