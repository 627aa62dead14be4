package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/milestone/husky/partners"
)

const demoReseller = "Demo Reseller"

// startDemo sets up what a newcomer needs to see the whole flow: a demo
// reseller with a fresh API key (keys are stored hashed, so an old one cannot
// be shown again), and two in-process demo recipients that verify each
// webhook's signature and print exactly what they received.
func (a *App) startDemo(ctx context.Context, w io.Writer) error {
	out := &lockedWriter{w: w}
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
		srv := &http.Server{Handler: a.demoRecipient(p, out), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
	}
	_, key, err := a.Partners.CreateKey(ctx, "system:demo", partners.RoleReseller, reseller.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
Demo mode. Reseller %s, API key (shown once):

  %s

Submit an order:

  curl -sS -X POST http://%s/v1/orders \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"reference":"PO-DEMO-%d","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},"ship_to":{"organization":"Example A/S","line1":"Banemarksvej 50","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE700R-32TB","quantity":2}],"notes":"stays with us"}'

The demo recipients below print what leaves the service: phone, email and
address only, never the contact name or the notes.

`, reseller.ID, key, a.Config.Addr, key, time.Now().Unix())
	return nil
}

// demoPartner finds the demo partner by kind and name, creating it or
// pointing it at this run's endpoint.
func (a *App) demoPartner(ctx context.Context, kind partners.Kind, name, url string) (partners.Partner, error) {
	ps, err := a.Partners.List(ctx)
	if err != nil {
		return partners.Partner{}, err
	}
	for _, p := range ps {
		if p.Kind == kind && p.Name == name {
			if url != "" && p.EndpointURL != url {
				if err := a.Partners.SetEndpoint(ctx, "system:demo", p.ID, url); err != nil {
					return partners.Partner{}, err
				}
			}
			return p, nil
		}
	}
	p, _, err := a.Partners.Add(ctx, "system:demo", partners.NewPartner{Kind: kind, Name: name, EndpointURL: url})
	return p, err
}

// demoRecipient verifies the Standard Webhooks signature of each request
// with the partner's current secrets and prints the body.
func (a *App) demoRecipient(p partners.Partner, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(rw, "unreadable", http.StatusBadRequest)
			return
		}
		secrets, err := a.Partners.Secrets(r.Context(), p.ID)
		if err != nil {
			http.Error(rw, "no secret", http.StatusInternalServerError)
			return
		}
		if err := partners.Verify(secrets, r.Header, body, time.Now()); err != nil {
			fmt.Fprintf(w, "[%s] REFUSED %s: %v\n", p.Name, r.Header.Get(partners.HeaderID), err)
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "[%s] signature ok, webhook-id %s:\n  %s\n", p.Name, r.Header.Get(partners.HeaderID), body)
		rw.WriteHeader(http.StatusNoContent)
	})
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p whole, one writer at a time.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
