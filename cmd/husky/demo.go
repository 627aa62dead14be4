package main

import (
	"context"
	"fmt"
	"io"

	"github.com/milestone/husky/partners"
)

const demoReseller = "Demo Reseller"

// startDemo makes sure a demo reseller exists and issues it a fresh API key
// (keys are stored hashed, so an old one cannot be shown again), then prints
// the key and a curl line that submits an order.
func (a *App) startDemo(ctx context.Context, w io.Writer) error {
	ps, err := a.Partners.List(ctx)
	if err != nil {
		return err
	}
	var reseller *partners.Partner
	for i := range ps {
		if ps[i].Kind == partners.KindReseller && ps[i].Name == demoReseller {
			reseller = &ps[i]
		}
	}
	if reseller == nil {
		p, _, err := a.Partners.Add(ctx, "system:demo", partners.NewPartner{Kind: partners.KindReseller, Name: demoReseller})
		if err != nil {
			return err
		}
		reseller = &p
	}
	_, key, err := a.Partners.CreateKey(ctx, "system:demo", partners.RoleReseller, reseller.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `
Demo mode. Reseller %s, API key (shown once):

  %s

Submit an order:

  curl -sS -X POST http://%s/v1/orders \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"reference":"PO-DEMO-1","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},"ship_to":{"organization":"Example A/S","line1":"Banemarksvej 50","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE700R-32TB","quantity":2}]}'

`, reseller.ID, key, a.Config.Addr, key)
	return nil
}
