// Package demo plays the demo's recipients for `husky serve --demo` (make
// run): a logistics partner and a manufacturer on loopback that verify
// every webhook's signature, print it with its personal values masked, and
// answer with the signed callbacks a real recipient would send.
package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/milestone/husky/partners"
)

// Recipient plays a recipient (the logistics partner or the manufacturer)
// for `husky serve --demo`, on loopback: it prints what arrives, its
// personal values masked, and answers with signed callbacks.
type Recipient struct {
	Partner partners.Partner
	// Secrets returns the partner's current webhook secrets.
	Secrets func(ctx context.Context, partnerID string) ([]string, error)
	// BaseURL is the service's own address, where callbacks go; Insecure
	// accepts its certificate unchecked (a self-signed one on loopback).
	BaseURL  string
	Insecure bool
	// Out is where it prints, one line at a time (LockedWriter).
	Out io.Writer
}

// Handler verifies the Standard Webhooks signature of each request with
// the partner's current secrets, prints the body, and answers each
// order.created with the callbacks a real recipient would send, until ctx
// ends.
func (d *Recipient) Handler(ctx context.Context) http.Handler {
	p, w := d.Partner, d.Out
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(rw, "unreadable", http.StatusBadRequest)
			return
		}
		secrets, err := d.Secrets(r.Context(), p.ID)
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
		fmt.Fprintf(w, "[%s] signature ok, webhook-id %s:\n  %s\n", p.Name, r.Header.Get(partners.HeaderID), MaskPersonal(body))
		rw.WriteHeader(http.StatusNoContent)
		var ev struct {
			Type string `json:"type"`
			Data struct {
				OrderID string `json:"order_id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type == "order.created" {
			go d.answer(ctx, ev.Data.OrderID)
		}
	})
}

// answer plays a recipient's side of an order: the manufacturer accepts
// it; the logistics partner accepts, ships and delivers it, each a few
// seconds after the last.
func (d *Recipient) answer(ctx context.Context, orderID string) {
	p, w := d.Partner, d.Out
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
	if d.Insecure {
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
		secrets, err := d.Secrets(ctx, p.ID)
		if err != nil || len(secrets) == 0 {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.BaseURL+"/v1/callbacks/"+p.ID, bytes.NewReader(body))
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

// LockedWriter writes each Write whole, one writer at a time: the demo's
// recipients and banner print to one terminal.
type LockedWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p whole, one writer at a time.
func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}

// personalKeys are the webhook fields that carry personal values.
var personalKeys = map[string]bool{"phone": true, "email": true, "organization": true, "line1": true, "line2": true,
	"city": true, "postal_code": true, "region": true}

// MaskPersonal returns a webhook body with every personal value masked,
// keeping its shape and the rest as it is; a body that is not JSON is
// summarised by its size.
func MaskPersonal(body []byte) string {
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
