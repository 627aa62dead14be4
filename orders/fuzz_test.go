package orders

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/milestone/husky/api"
)

// addSeeds adds every file of ../testdata/fuzz/<name> to the corpus.
func addSeeds(f *testing.F, name string) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "fuzz", name, "*"))
	if len(files) == 0 {
		f.Fatalf("no seeds in testdata/fuzz/%s", name)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecode feeds the order decoder and validator arbitrary bodies: it
// must never panic, and whatever it accepts must satisfy the rules.
func FuzzDecode(f *testing.F) {
	addSeeds(f, "FuzzDecode")
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Decode(body, testCatalog)
		if err != nil {
			return
		}
		if d.Reference == "" || d.Customer.Name == "" || len(d.Items) == 0 || d.ShipTo.Line1 == "" {
			t.Fatalf("accepted an order missing required fields: %+v", d)
		}
		if !strings.HasPrefix(d.Customer.Phone, "+") || checkEmail(d.Customer.Email) != "" || !isCountry(d.ShipTo.Country) {
			t.Fatalf("accepted invalid contact or country: %+v", d.Customer)
		}
		for _, it := range d.Items {
			if it.Quantity < 1 || it.Quantity > maxQuantity || !testCatalog.Orderable(it.SKU) {
				t.Fatalf("accepted item %+v", it)
			}
		}
		if !utf8.ValidString(d.Notes) || api.CheckText(d.Customer.Name, false) != "" || api.CheckText(d.ShipTo.City, false) != "" {
			t.Fatal("accepted invalid text")
		}
	})
}

// FuzzImportLine feeds the import line parser arbitrary lines.
func FuzzImportLine(f *testing.F) {
	addSeeds(f, "FuzzImportLine")
	f.Fuzz(func(t *testing.T, line []byte) {
		il, err := ParseImportLine(line, testCatalog)
		if err != nil {
			return
		}
		if il.ResellerID == "" || il.CreatedAt.IsZero() || !il.Status.Valid() {
			t.Fatalf("accepted a line without its import fields: %+v", il)
		}
		if il.Status.Final() != (il.ClosedAt != nil) {
			t.Fatalf("closed_at and status disagree: %+v", il)
		}
	})
}

// FuzzDecodeCallback feeds the callback decoder arbitrary bodies.
func FuzzDecodeCallback(f *testing.F) {
	addSeeds(f, "FuzzDecodeCallback")
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := DecodeCallback(body)
		if err != nil {
			return
		}
		if cb.OrderID == "" {
			t.Fatal("accepted a callback without an order id")
		}
		if _, ok := callbackTarget[cb.Type]; !ok && cb.Type != CallbackErasureConfirmed {
			t.Fatalf("accepted unknown type %q", cb.Type)
		}
		if cb.TrackingURL != "" && !strings.HasPrefix(cb.TrackingURL, "https://") {
			t.Fatalf("accepted tracking URL %q", cb.TrackingURL)
		}
	})
}
