package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// benchKeys: cfg.purge orders written in plain text, as a database from
// before the vault holds them, are sealed at the next start (the time it
// takes is a row); then `husky keys rotate` re-wraps their data keys while
// 8 connections read orders, whose p99 is measured beside idle.
func benchKeys(cfg benchConfig) ([]row, error) {
	w, _, dir, cleanup, err := tempWorld(cfg, nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := writeSubjectOrders(w, cfg.purge); err != nil {
		return nil, err
	}
	start := time.Now()
	s, err := startServerWithin(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"), 30*time.Minute)
	if err != nil {
		return nil, err
	}
	sealTook := time.Since(start)
	fmt.Fprintf(os.Stderr, "  %d plain orders sealed at start in %v\n", cfg.purge+100, sealTook.Round(time.Millisecond))
	defer s.stop()
	get := func(ctx context.Context) *latencies {
		lat, _, _ := load(ctx, 8, func(c *http.Client, i int) (int, error) {
			req, _ := http.NewRequest("GET", s.url()+"/v1/orders/"+subjectOrderID(rand.IntN(cfg.purge)), nil)
			req.Header.Set("Authorization", "Bearer "+w.resellerKey)
			res, err := c.Do(req)
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, nil
		})
		return lat
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	idle := get(ctx)
	cancel()
	ctx, cancel = context.WithCancel(context.Background())
	during := make(chan *latencies)
	go func() { during <- get(ctx) }()
	rot, err := husky(cfg.bin, w.env, "keys", "rotate")
	cancel()
	dur := <-during
	if err != nil {
		return nil, err
	}
	took := time.Duration(rot["took_ns"].(float64))
	return []row{
		{fmt.Sprintf("vault: seal %d plain orders at start (a database from before the vault)", cfg.purge+100), sealTook.Round(100 * time.Millisecond).String(), "", "", ""},
		{fmt.Sprintf("vault: husky keys rotate, %.0f data keys re-wrapped online (with the 5 s wait for a running service)", rot["data_keys_rewrapped"].(float64)),
			took.Round(100 * time.Millisecond).String(), "", "", ""},
		{"vault: GET /v1/orders/{id} p99 during the rotation, 8 connections", ms(dur.pct(99)), ms(idle.pct(99)) + " (idle)",
			fmt.Sprintf("%.1f×", float64(dur.pct(99))/float64(idle.pct(99))), ""},
	}, nil
}
