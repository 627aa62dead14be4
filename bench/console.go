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

	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/sharing/sharingtest"
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
	ctx := context.Background()
	if err := sharingtest.WriteHistory(ctx, db, n, w.logistics, w.manufacturer, payload, "2026-01-01T00:00:00.000000Z"); err != nil {
		return err
	}
	if err := orderstest.WriteClosed(ctx, db, p, w.reseller); err != nil {
		return err
	}
	return db.Checkpoint(context.Background())
}
