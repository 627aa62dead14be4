package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/milestone/husky/store"
)

// benchConsole: how long the console takes to render the operators'
// deliveries list among cfg.backlog deliveries and finance's purge report
// among cfg.purge orders past retention, each p99 over 200 renders, beside
// GET /healthz on the same server.
func benchConsole(cfg benchConfig) ([]row, error) {
	w, _, dir, cleanup, err := tempWorld(cfg, nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := w.recipients(false); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := writeConsoleData(w, cfg.backlog, cfg.purge); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  %d deliveries and %d orders written in %v\n", cfg.backlog, cfg.purge, time.Since(start).Round(time.Millisecond))
	s, err := startServerWithin(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"), 30*time.Minute) // seals the plain orders first
	if err != nil {
		return nil, err
	}
	defer s.stop()
	render := func(key, path string, n int) (*latencies, error) {
		c, err := consoleClient(s.url(), key)
		if err != nil {
			return nil, err
		}
		lat := &latencies{}
		for range n {
			t0 := time.Now()
			res, err := c.Get(s.url() + path)
			if err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b), "<main") {
				return nil, fmt.Errorf("%s: %d %.200s", path, res.StatusCode, b)
			}
			lat.add(time.Since(t0))
		}
		return lat, nil
	}
	deliveries, err := render(w.adminKey, "/console/deliveries", 200)
	if err != nil {
		return nil, err
	}
	dead, err := render(w.adminKey, "/console/deliveries?status=dead", 200)
	if err != nil {
		return nil, err
	}
	report, err := render(w.financeKey, "/console/finance", 200)
	if err != nil {
		return nil, err
	}
	floor := &latencies{}
	for range 200 {
		t0 := time.Now()
		res, err := http.Get(s.url() + "/healthz")
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		floor.add(time.Since(t0))
	}
	fl := ms(floor.pct(50)) + " / " + ms(floor.pct(99)) + " (GET /healthz)"
	return []row{
		{fmt.Sprintf("console: deliveries page among %d deliveries, p50 / p99", cfg.backlog), ms(deliveries.pct(50)) + " / " + ms(deliveries.pct(99)), fl, "", ""},
		{"console: the same, filtered to dead deliveries, p50 / p99", ms(dead.pct(50)) + " / " + ms(dead.pct(99)), fl, "", ""},
		{fmt.Sprintf("console: purge report (chart and fiscal years) among %d orders past retention, p50 / p99", cfg.purge),
			ms(report.pct(50)) + " / " + ms(report.pct(99)), fl, "", ""},
	}, nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleClient signs in to the console with key and returns a client
// that carries the session.
func consoleClient(base, key string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/console/sign-in")
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(b)
	if m == nil {
		return nil, fmt.Errorf("no sign-in form")
	}
	res, err = c.PostForm(base+"/console/sign-in", url.Values{"csrf": {string(m[1])}, "key": {key}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in: %d", res.StatusCode)
	}
	return c, nil
}

// writeConsoleData writes n deliveries (one in ten dead) and p orders
// closed in 2019, past retention, straight into the database.
func writeConsoleData(w *world, n, p int) error {
	db, err := store.Open(context.Background(), w.db)
	if err != nil {
		return err
	}
	defer db.Close()
	at := "2026-01-01T00:00:00.000000Z"
	if _, err := db.Writer.Exec(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO deliveries (id, partner_id, order_id, event_type, payload, payload_sha256, fields, status, attempts,
			next_attempt_at, created_at, updated_at, delivered_at, dead_at)
		SELECT printf('msg_%032x', x), CASE x % 2 WHEN 0 THEN $2 ELSE $3 END, NULL, 'order.cancelled', CAST($4 AS BLOB), 'bench', '',
			CASE WHEN x % 10 = 0 THEN 'dead' ELSE 'delivered' END, 1, $5, $6, $7,
			CASE WHEN x % 10 = 0 THEN NULL ELSE $8 END, CASE WHEN x % 10 = 0 THEN $9 ELSE NULL END
		FROM n`, n, w.logistics, w.manufacturer, string(payload), at, at, at, at, at); err != nil {
		return fmt.Errorf("write deliveries: %w", err)
	}
	if _, err := db.Writer.Exec(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
		INSERT INTO orders (id, reseller_id, reference, status, customer_name, customer_email, customer_phone, ship_organization,
			ship_line1, ship_line2, ship_city, ship_postal_code, ship_region, ship_country, notes, created_at, updated_at, closed_at,
			reference_hash)
		SELECT printf('ord_%032x', x), $2, 'C-' || x, 'delivered', 'Customer', 'c' || x || '@example.com', '+4520100000', '',
			'Vej 1', '', 'Brøndby', '2605', '', 'DK', '', '2017-01-01T00:00:00.000000Z', '2019-03-01T00:00:00.000000Z',
			(2017 + x % 3) || '-03-01T00:00:00.000000Z', 'C-' || x
		FROM n`, p, w.reseller); err != nil {
		return fmt.Errorf("write orders: %w", err)
	}
	return db.Checkpoint(context.Background())
}
