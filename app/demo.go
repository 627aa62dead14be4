package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/milestone/husky/demo"
	"github.com/milestone/husky/partners"
)

const demoReseller = "Demo Reseller"

// errDemoDB and errRealDB keep demo partners and real ones apart: a real
// order must never be queued to a demo recipient, and a demo must never
// run on a database with real partners.
var (
	errDemoDB = errors.New("this database was set up by `husky serve --demo` (make run uses demo.db): " +
		"its demo recipients would receive real orders. Use another HUSKY_DB for real partners, or run with --demo")
	errRealDB = errors.New("this database holds real partners: `husky serve --demo` would add demo recipients " +
		"that receive every order. Run the demo on its own database (make run uses demo.db)")
)

// CheckDemoMode refuses a demo on a database with real partners, and a
// real service on a database with demo partners.
func (a *App) CheckDemoMode(ctx context.Context, demo bool) error {
	ps, err := a.Partners.List(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		switch {
		case demo && !p.Demo:
			return errRealDB
		case !demo && p.Demo:
			return errDemoDB
		}
	}
	return nil
}

// RefuseRealInDemo refuses to add a real partner to a demo database.
func (a *App) RefuseRealInDemo(ctx context.Context) error {
	ps, err := a.Partners.List(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Demo {
			return errDemoDB
		}
	}
	return nil
}

// demoKeys are the keys a demo run prints, one per role.
type demoKeys struct{ reseller, admin, finance, privacy string }

// StartDemo sets up what a newcomer needs to see the whole flow: a demo
// reseller with a fresh API key (keys are stored hashed, so an old one
// cannot be shown again), admin and finance keys, and two in-process demo
// recipients that verify each webhook's signature, print exactly what they
// received, and answer each order as real ones would, with signed
// callbacks: accepted, then shipped with tracking, then delivered.
func (a *App) StartDemo(ctx context.Context, w io.Writer) error {
	out := &demo.LockedWriter{W: w}
	reseller, err := a.demoPartner(ctx, partners.KindReseller, demoReseller, "")
	if err != nil {
		return err
	}
	for _, r := range []struct {
		kind partners.Kind
		name string
	}{{partners.KindLogistics, "Demo Logistics"}, {partners.KindManufacturer, "Demo Manufacturer"}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo recipient: %w", err)
		}
		url := "http://" + ln.Addr().String() + "/webhooks"
		p, err := a.demoPartner(ctx, r.kind, r.name, url)
		if err != nil {
			return err
		}
		rec := &demo.Recipient{Partner: p, Secrets: a.Partners.Secrets, BaseURL: a.baseURL(), Insecure: a.Config.TLSCert != "", Out: out}
		srv := &http.Server{Handler: rec.Handler(ctx), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
	}
	var keys demoKeys
	for _, k := range []struct {
		role partners.Role
		to   *string
		id   string
	}{{partners.RoleReseller, &keys.reseller, reseller.ID}, {partners.RoleAdmin, &keys.admin, ""}, {partners.RoleFinance, &keys.finance, ""},
		{partners.RolePrivacy, &keys.privacy, ""}} {
		if _, *k.to, err = a.Partners.CreateKey(ctx, "system:demo", k.role, k.id); err != nil {
			return err
		}
	}
	a.demoBanner(out, reseller, keys)
	return nil
}

func (a *App) baseURL() string {
	if a.Config.TLSCert != "" {
		return "https://" + a.Config.Addr
	}
	return "http://" + a.Config.Addr
}

func (a *App) demoBanner(w io.Writer, reseller partners.Partner, k demoKeys) {
	base := a.baseURL()
	curlTLS := ""
	if a.Config.TLSCert != "" {
		curlTLS = " -k"
	}
	fmt.Fprintf(w, `
Demo mode on %s. Keys (shown once; each run of the demo makes new ones):

  reseller (%s):  %s
  admin:    %s
  finance:  %s
  privacy:  %s

The console: %s/console (sign in with the admin, finance or privacy key).

1. Submit an order as the reseller:

  curl -sS%s -X POST %s/v1/orders \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"reference":"PO-DEMO-%d","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},"ship_to":{"organization":"Example A/S","line1":"Banemarksvej 50","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE700R-32TB","quantity":2}],"notes":"stays with us"}'

   The demo recipients below print what leaves the service (phone, email and
   address only, never the contact name or the notes), then answer with signed
   callbacks a few seconds apart: accepted, shipped with tracking, delivered.

2. Follow the order (ORDER_ID from step 1) as the reseller, and its audit trail as an admin:

  curl -sS%s %s/v1/orders/ORDER_ID/events -H 'Authorization: Bearer %s'
  curl -sS%s '%s/v1/audit/entries?order_id=ORDER_ID' -H 'Authorization: Bearer %s'

3. See what a purge would erase, as finance:

  curl -sS%s %s/v1/purge/report -H 'Authorization: Bearer %s'

4. Ask, as the data-protection officer, what the service holds about the customer:

  curl -sS%s -X POST %s/v1/subject-requests -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' -d '{"type":"access","email":"jane@example.dk"}'

`, a.Config.DB, reseller.ID, k.reseller, k.admin, k.finance, k.privacy, base,
		curlTLS, base, k.reseller, time.Now().Unix(),
		curlTLS, base, k.reseller, curlTLS, base, k.admin,
		curlTLS, base, k.finance, curlTLS, base, k.privacy)
}

// demoPartner finds the demo partner by kind and name, creating it or
// pointing it at this run's endpoint.
func (a *App) demoPartner(ctx context.Context, kind partners.Kind, name, url string) (partners.Partner, error) {
	ps, err := a.Partners.List(ctx)
	if err != nil {
		return partners.Partner{}, err
	}
	for _, p := range ps {
		if p.Demo && p.Kind == kind && p.Name == name {
			if url != "" && p.EndpointURL != url {
				if err := a.Partners.SetEndpoint(ctx, "system:demo", p.ID, url); err != nil {
					return partners.Partner{}, err
				}
			}
			return p, nil
		}
	}
	p, _, err := a.Partners.Add(ctx, "system:demo", partners.NewPartner{Kind: kind, Name: name, EndpointURL: url, Demo: true})
	return p, err
}
