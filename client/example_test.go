package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/cli"
	"github.com/milestone/husky/client"
	"github.com/milestone/husky/partners"
)

// Example submits an order with the typed client and reads it back,
// against the service's real router on a new SQLite database.
func Example() {
	ctx := context.Background()
	url, key, stop := startService()
	defer stop()

	// Every call carries the reseller's API key.
	c, err := client.NewClientWithResponses(url, client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		panic(err)
	}
	retry := "PO-2026-0042-1" // the same key and body on a retry return the same order
	created, err := c.CreateOrderWithResponse(ctx, &client.CreateOrderParams{IdempotencyKey: &retry}, client.OrderRequest{
		Reference: "PO-2026-0042",
		Customer:  client.Customer{Name: "Jane Doe", Email: "jane@example.dk", Phone: "+45 33 12 34 56"},
		ShipTo:    client.Address{Line1: "Banemarksvej 50", City: "Brøndby", PostalCode: "2605", Country: "DK"},
		Items:     []client.Item{{Sku: "HE150D-4TB", Quantity: 1}},
	})
	if err != nil {
		panic(err)
	}
	if created.JSON201 == nil {
		fmt.Println("refused:", created.StatusCode(), string(created.Body))
		return
	}
	got, err := c.GetOrderWithResponse(ctx, created.JSON201.Id)
	if err != nil {
		panic(err)
	}
	o := got.JSON200
	fmt.Println(o.Reference, o.Status, o.Customer.Phone, o.ShipTo.Country)

	// A bad order is refused with a problem naming each bad field.
	bad, err := c.CreateOrderWithResponse(ctx, nil, client.OrderRequest{Reference: "PO-2026-0043",
		Customer: client.Customer{Name: "Jane Doe", Email: "jane@example.dk", Phone: "12"},
		ShipTo:   client.Address{Line1: "Banemarksvej 50", City: "Brøndby", PostalCode: "2605", Country: "XX"},
		Items:    []client.Item{{Sku: "HE150D-4TB", Quantity: 0}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(bad.StatusCode())
	for _, e := range *bad.ApplicationproblemJSON422.Errors {
		fmt.Println(*e.Pointer)
	}
	// Output:
	// PO-2026-0042 received +4533123456 DK
	// 422
	// /customer/phone
	// /items/0/quantity
	// /ship_to/country
}

// startService runs the service's router on a temporary database with one
// reseller, and returns its URL and the reseller's key.
func startService() (url, key string, stop func()) {
	dir, err := os.MkdirTemp("", "husky-client")
	if err != nil {
		panic(err)
	}
	cfg, err := cli.ConfigFrom(func(name string) string {
		return map[string]string{"HUSKY_DB": filepath.Join(dir, "husky.db"), "HUSKY_RATE_LIMIT": "off"}[name]
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	p, _, err := a.Partners.Add(ctx, "example", partners.NewPartner{Kind: partners.KindReseller, Name: "Example Shop"})
	if err != nil {
		panic(err)
	}
	if _, key, err = a.Partners.CreateKey(ctx, "example", partners.RoleReseller, p.ID); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(a.Handler())
	return srv.URL, key, func() { srv.Close(); a.Close(); os.RemoveAll(dir) }
}
