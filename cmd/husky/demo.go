package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

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

// checkDemoMode refuses a demo on a database with real partners, and a
// real service on a database with demo partners.
func (a *App) checkDemoMode(ctx context.Context, demo bool) error {
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

// refuseRealInDemo refuses to add a real partner to a demo database.
func (a *App) refuseRealInDemo(ctx context.Context) error {
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

// startDemo sets up what a newcomer needs to see the whole flow: a demo
// reseller with a fresh API key (keys are stored hashed, so an old one
// cannot be shown again), admin and finance keys, and two in-process demo
// recipients that verify each webhook's signature, print exactly what they
// received, and answer each order as real ones would, with signed
// callbacks: accepted, then shipped with tracking, then delivered.
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
		srv := &http.Server{Handler: a.demoRecipient(ctx, p, out), ReadHeaderTimeout: 5 * time.Second}
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

// demoRecipient verifies the Standard Webhooks signature of each request
// with the partner's current secrets, prints the body, and answers each
// order.created with the callbacks a real recipient would send.
func (a *App) demoRecipient(ctx context.Context, p partners.Partner, w io.Writer) http.Handler {
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
		// What arrived, its personal values masked: a terminal is no place
		// for a customer's phone, email or address, even a demo one.
		fmt.Fprintf(w, "[%s] signature ok, webhook-id %s:\n  %s\n", p.Name, r.Header.Get(partners.HeaderID), maskPersonal(body))
		rw.WriteHeader(http.StatusNoContent)
		var ev struct {
			Type string `json:"type"`
			Data struct {
				OrderID string `json:"order_id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type == "order.created" {
			go a.demoAnswer(ctx, p, ev.Data.OrderID, w)
		}
	})
}

// demoAnswer plays a recipient's side of an order: the manufacturer
// accepts it; the logistics partner accepts, ships and delivers it, each
// a few seconds after the last.
func (a *App) demoAnswer(ctx context.Context, p partners.Partner, orderID string, w io.Writer) {
	type step struct {
		typ  string
		data map[string]any
	}
	steps := []step{{"order.accepted", map[string]any{"estimated_ship_date": time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}}}
	if p.Kind == partners.KindLogistics {
		steps = append(steps,
			step{"order.shipped", map[string]any{"carrier": "Demo Freight", "tracking_number": fmt.Sprintf("DF%09d", time.Now().UnixNano()%1e9),
				"tracking_url": "https://tracking.example.com/demo"}},
			step{"order.delivered", map[string]any{}})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if a.Config.TLSCert != "" {
		// The demo calls its own server on loopback; its certificate
		// may be self-signed.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	for i, st := range steps {
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
		data := map[string]any{"order_id": orderID}
		for k, v := range st.data {
			data[k] = v
		}
		if st.typ == "order.delivered" {
			data["delivered_at"] = time.Now().UTC().Format(time.RFC3339)
		}
		body, _ := json.Marshal(map[string]any{"type": st.typ, "timestamp": time.Now().UTC().Format(time.RFC3339), "data": data})
		secrets, err := a.Partners.Secrets(ctx, p.ID)
		if err != nil || len(secrets) == 0 {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.baseURL()+"/v1/callbacks/"+p.ID, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		_ = partners.SetHeaders(req.Header, secrets[:1], fmt.Sprintf("demo_%s_%d", orderID, i), time.Now(), body)
		res, err := client.Do(req)
		if err != nil {
			fmt.Fprintf(w, "[%s] callback %s for %s failed: %v\n", p.Name, st.typ, orderID, err)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		fmt.Fprintf(w, "[%s] sent signed callback %s for %s: HTTP %d\n", p.Name, st.typ, orderID, res.StatusCode)
	}
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

// personalKeys are the webhook fields that carry personal values.
var personalKeys = map[string]bool{"phone": true, "email": true, "organization": true, "line1": true, "line2": true,
	"city": true, "postal_code": true, "region": true}

// maskPersonal returns a webhook body with every personal value masked,
// keeping its shape and the rest as it is; a body that is not JSON is
// summarised by its size.
func maskPersonal(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Sprintf("(%d bytes, not JSON)", len(body))
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(k, e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(key, e)
			}
		case string:
			if personalKeys[key] {
				return maskValue(key, x)
			}
		}
		return v
	}
	b, _ := json.Marshal(walk("", v))
	return string(b)
}

// maskValue keeps a hint of a value: an email's first letters and
// top-level domain, a phone's country code and last two digits, a word's
// first letter.
func maskValue(key, s string) string {
	r := []rune(s)
	switch {
	case s == "":
		return ""
	case key == "email":
		local, domain, _ := strings.Cut(s, "@")
		tld := domain[strings.LastIndexByte(domain, '.')+1:]
		return string([]rune(local)[:min(2, len([]rune(local)))]) + "…@…." + tld
	case key == "phone" && len(r) > 5:
		return string(r[:3]) + strings.Repeat("•", len(r)-5) + string(r[len(r)-2:])
	default:
		return string(r[:1]) + "…"
	}
}
