package sharing

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleOrder() *orders.Order {
	return &orders.Order{
		ID: "ord_01a2b3c4d5e6f708192a3b4c5d6e7f80", ResellerID: "ptn_reseller", Reference: "PO-2026-0042",
		Status:   orders.StatusReceived,
		Customer: orders.Customer{Name: "Jane Doe", Email: "jane@example.dk", Phone: "+4533123456"},
		ShipTo: orders.Address{Organization: "Example A/S", Line1: "Banemarksvej 50", City: "Brøndby",
			PostalCode: "2605", Country: "DK"},
		Items: []orders.Item{{SKU: "HE700R-32TB", Quantity: 2}},
		Notes: "free text for the reseller's own use",
	}
}

var goldenTime = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("..", "testdata", "webhooks", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sharing -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestPayloadsMatchGoldenFiles(t *testing.T) {
	t.Parallel()
	for _, allow := range []string{"phone,email,address", "phone", "email", "address", "phone,email", "email,address"} {
		fs, err := partners.ParseFields(allow)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := Project(sampleOrder(), fs)
		golden(t, "order.created."+strings.ReplaceAll(allow, ",", "+"), Envelope{Type: EventOrderCreated, Timestamp: goldenTime, Data: d})
	}
	o := sampleOrder()
	o.ShipTo.Line2, o.ShipTo.Region = "2nd floor", "Hovedstaden"
	d, _ := Project(o, partners.AllFields)
	golden(t, "order.created.full_address", Envelope{Type: EventOrderCreated, Timestamp: goldenTime, Data: d})
	golden(t, "order.cancelled", Envelope{Type: EventOrderCancelled, Timestamp: goldenTime, Data: OrderRef{OrderID: o.ID}})
	golden(t, "order.erased", Envelope{Type: EventOrderErased, Timestamp: goldenTime, Data: OrderRef{OrderID: o.ID}})
	golden(t, "order.restricted", Envelope{Type: EventOrderRestricted, Timestamp: goldenTime, Data: OrderRef{OrderID: o.ID}})
	golden(t, "order.restriction_lifted", Envelope{Type: EventOrderRestrictionLifted, Timestamp: goldenTime, Data: OrderRef{OrderID: o.ID}})
}

// TestUpdatePayloadsMatchGoldenFiles pins order.updated: the new values of
// the changed fields within the allow-list, and nothing else.
func TestUpdatePayloadsMatchGoldenFiles(t *testing.T) {
	t.Parallel()
	o := sampleOrder()
	o.Customer = orders.Customer{Name: "Jane Changed", Email: "jane.new@example.dk", Phone: "+4540404040"}
	o.ShipTo.Line1 = "Nyvej 1"
	for _, tc := range []struct {
		name, allow string
		changed     []string
		sends       bool
	}{
		{"phone", "phone,email,address", []string{orders.FieldPhone, orders.FieldName}, true},
		{"email+address", "phone,email,address", []string{orders.FieldEmail, orders.FieldAddress}, true},
		{"phone_only_allowed", "phone", []string{orders.FieldPhone, orders.FieldEmail, orders.FieldAddress}, true},
		{"nothing_allowed", "email", []string{orders.FieldPhone, orders.FieldName, orders.FieldAddress}, false},
		{"name_only", "phone,email,address", []string{orders.FieldName}, false},
	} {
		fs, err := partners.ParseFields(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		u, sent := ProjectUpdate(o, tc.changed, fs)
		if (len(sent) > 0) != tc.sends {
			t.Errorf("%s: sends %v, want %v", tc.name, sent, tc.sends)
		}
		if tc.sends {
			golden(t, "order.updated."+tc.name, Envelope{Type: EventOrderUpdated, Timestamp: goldenTime, Data: u})
		}
	}
}

// fillCanaries sets every string field reachable in v to a distinct canary
// naming its path, so that a test can see exactly which values leave.
func fillCanaries(v reflect.Value, path string, out map[string]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillCanaries(v.Elem(), path, out)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillCanaries(v.Field(i), path+"."+v.Type().Field(i).Name, out)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		}
		for i := range v.Len() {
			fillCanaries(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.String:
		c := fmt.Sprintf("CANARY%03d", len(out))
		v.SetString(c)
		out[c] = path
	}
}

// allowedPaths are the order fields a recipient may receive for each
// allow-listed field; the order id and items travel with every payload.
var allowedPaths = map[partners.Field][]string{
	partners.FieldPhone:   {".Customer.Phone"},
	partners.FieldEmail:   {".Customer.Email"},
	partners.FieldAddress: {".ShipTo.Organization", ".ShipTo.Line1", ".ShipTo.Line2", ".ShipTo.City", ".ShipTo.PostalCode", ".ShipTo.Region", ".ShipTo.Country"},
}

func TestProjectionDisclosesNothingElseWhateverTheOrderHolds(t *testing.T) {
	t.Parallel()
	o := &orders.Order{}
	canaries := map[string]string{}
	fillCanaries(reflect.ValueOf(o).Elem(), "", canaries)
	subsets := [][]partners.Field{{}, {partners.FieldPhone}, {partners.FieldEmail}, {partners.FieldAddress},
		{partners.FieldPhone, partners.FieldEmail}, {partners.FieldPhone, partners.FieldAddress},
		{partners.FieldEmail, partners.FieldAddress}, partners.AllFields}
	for _, allow := range subsets {
		ok := map[string]bool{".ID": true}
		for _, f := range allow {
			for _, p := range allowedPaths[f] {
				ok[p] = true
			}
		}
		d, sent := Project(o, allow)
		body, _ := json.Marshal(Envelope{Type: EventOrderCreated, Timestamp: goldenTime, Data: d})
		for c, path := range canaries {
			isItem := strings.HasPrefix(path, ".Items[")
			if strings.Contains(string(body), c) && !ok[path] && !isItem {
				t.Errorf("allow-list %v: %s leaks into the payload", allow, path)
			}
			if ok[path] && !strings.Contains(string(body), c) {
				t.Errorf("allow-list %v: allowed %s is missing", allow, path)
			}
		}
		if len(sent) != len(allow) {
			t.Errorf("allow-list %v: reported %v as sent", allow, sent)
		}
	}
}

func FuzzProjectionLeaksNothing(f *testing.F) {
	f.Add("Jane Doe", "notes", "PO-1", "jane@example.dk", "+4533123456", "Banemarksvej 50")
	f.Fuzz(func(t *testing.T, name, notes, ref, email, phone, line1 string) {
		o := sampleOrder()
		o.Customer = orders.Customer{Name: "\x00N" + name, Email: email, Phone: phone}
		o.Notes, o.Reference, o.ShipTo.Line1 = "\x00T"+notes, "\x00R"+ref, line1
		d, _ := Project(o, partners.AllFields)
		body, _ := json.Marshal(d)
		for _, secret := range []string{o.Customer.Name, o.Notes, o.Reference} {
			enc, _ := json.Marshal(secret)
			if bytes.Contains(body, enc[1:len(enc)-1]) {
				t.Fatalf("payload contains %q", secret)
			}
		}
	})
}
