package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/milestone/husky/orders/orderstest"
	"github.com/milestone/husky/sharing/sharingtest"
	"github.com/milestone/husky/store"
)

// benchSubjects: a data-subject request's lookup among cfg.subjects orders
// (written straight into the database, as an import would leave them, with
// the keyed hashes the service indexes), against a primary-key read of one
// order on the same database; and the access export of a person with 100
// orders.
func benchSubjects(cfg benchConfig) ([]row, error) {
	w, _, dir, cleanup, err := tempWorld(cfg, nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	privacy, err := husky(cfg.bin, w.env, "keys", "create", "--role", "privacy")
	if err != nil {
		return nil, err
	}
	key := privacy["api_key"].(string)
	start := time.Now()
	if err := writeSubjectOrders(w, cfg.subjects); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  %d orders written in %v\n", cfg.subjects, time.Since(start).Round(time.Millisecond))
	if err := writeDisclosures(w, cfg.subjects+100); err != nil {
		return nil, err
	}
	s, err := startServerWithin(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"), 30*time.Minute) // seals the plain orders first
	if err != nil {
		return nil, err
	}
	defer s.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	call := func(method, path, key, body string) (int, []byte, error) {
		req, _ := http.NewRequest(method, s.url()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, nil
	}
	const n = 2000
	lookup, floor := &latencies{}, &latencies{}
	for i := range n {
		who := rand.IntN(cfg.subjects)
		body := fmt.Sprintf(`{"type":"access","email":"buyer%d@example.com","phone":"+4520%06d"}`, who, 100000+who%800000)
		t0 := time.Now()
		st, b, err := call("POST", "/v1/subject-requests", key, body)
		if err != nil || st != 201 {
			return nil, fmt.Errorf("subject request: %d %s %v", st, b, err)
		}
		lookup.add(time.Since(t0))
		if i == 0 && !strings.Contains(string(b), `"order_id"`) {
			return nil, fmt.Errorf("the lookup found no order: %s", b)
		}
		t0 = time.Now()
		if st, b, err := call("GET", "/v1/orders/"+subjectOrderID(who), w.resellerKey, ""); err != nil || st != 200 {
			return nil, fmt.Errorf("get order: %d %s %v", st, b, err)
		}
		floor.add(time.Since(t0))
	}
	// The export of a person with 100 orders.
	st, b, err := call("POST", "/v1/subject-requests", key, `{"type":"access","email":"jane@example.dk"}`)
	if err != nil || st != 201 {
		return nil, fmt.Errorf("jane's request: %d %s %v", st, b, err)
	}
	var r struct {
		ID     string
		Orders []any
	}
	json.Unmarshal(b, &r)
	export := &latencies{}
	for range 20 {
		t0 := time.Now()
		if st, b, err := call("GET", "/v1/subject-requests/"+r.ID+"/export", key, ""); err != nil || st != 200 {
			return nil, fmt.Errorf("export: %d %.200s %v", st, b, err)
		}
		export.add(time.Since(t0))
	}
	breach, err := benchBreach(w, cfg.subjects+100, func(method, path, body string) (int, []byte, error) { return call(method, path, key, body) })
	if err != nil {
		return nil, err
	}
	// Rotating the lookup key: every order's keyed hashes made again under a
	// new key, online, while the server runs.
	rot, err := husky(cfg.bin, w.env, "keys", "rotate-lookup")
	if err != nil {
		return nil, fmt.Errorf("rotate lookup: %w", err)
	}
	rehashed, _ := rot["orders_rehashed"].(float64)
	tookNS, _ := rot["took_ns"].(float64)
	took := time.Duration(tookNS)
	// The lookup still finds the person under the new key.
	if st, b, err := call("POST", "/v1/subject-requests", key, `{"type":"access","email":"jane@example.dk"}`); err != nil || st != 201 ||
		!strings.Contains(string(b), `"order_id"`) {
		return nil, fmt.Errorf("lookup after the rotation: %d %.200s %v", st, b, err)
	}
	return []row{
		breach,
		{fmt.Sprintf("subject request: lookup by email and phone among %d orders (and the request logged), p50 / p99", cfg.subjects),
			ms(lookup.pct(50)) + " / " + ms(lookup.pct(99)), ms(floor.pct(50)) + " / " + ms(floor.pct(99)) + " (GET /v1/orders/{id}, same database)", "", "p99 < 10 ms"},
		{fmt.Sprintf("subject request: access export of a person with %d orders, p50 / p99", len(r.Orders)),
			ms(export.pct(50)) + " / " + ms(export.pct(99)), "", "", ""},
		{fmt.Sprintf("lookup key rotation: %d orders' keyed hashes made again, online (husky keys rotate-lookup, with its 5 s settle)", int(rehashed)),
			fmt.Sprintf("%.1f s (%.0f orders/s)", took.Seconds(), rehashed/max((took-5*time.Second).Seconds(), 0.001)), "", "", ""},
	}, nil
}

func subjectOrderID(i int) string { return fmt.Sprintf("ord_%032x", i+1) }

// writeSubjectOrders writes n orders of distinct people, and 100 orders of
// jane@example.dk, with the keyed hashes the service would compute.
func writeSubjectOrders(w *world, n int) error {
	b, err := os.ReadFile(w.db + ".keys")
	if err != nil {
		return err
	}
	var ring struct {
		LookupKey []byte `json:"lookup_key"`
	}
	if err := json.Unmarshal(b, &ring); err != nil {
		return err
	}
	hash := func(purpose, v string) []byte {
		m := hmac.New(sha256.New, ring.LookupKey)
		m.Write([]byte(purpose))
		m.Write([]byte{0})
		m.Write([]byte(v))
		return m.Sum(nil)
	}
	db, err := store.Open(context.Background(), w.db)
	if err != nil {
		return err
	}
	defer db.Close()
	people := func(i int) orderstest.Person {
		email, phone := fmt.Sprintf("buyer%d@example.com", i), fmt.Sprintf("+4520%06d", 100000+i%800000)
		if i >= n {
			email, phone = "jane@example.dk", "+4533123456"
		}
		ref := fmt.Sprintf("S-%d", i)
		return orderstest.Person{ID: subjectOrderID(i), Reference: ref, Name: fmt.Sprintf("Customer %d", i), Email: email, Phone: phone,
			EmailHash: hash("email", email), PhoneHash: hash("phone", phone), ReferenceHash: []byte(ref)}
	}
	if err := orderstest.WriteShared(context.Background(), db, w.reseller, "2026-06-01T10:00:00.000000Z", people, n+100); err != nil {
		return err
	}
	return db.Checkpoint(context.Background())
}

// writeDisclosures records every order as disclosed to both recipients, as
// the dispatcher would have: phone and address to the carrier, email to
// the maker.
func writeDisclosures(w *world, n int) error {
	ctx := context.Background()
	db, err := store.Open(ctx, w.db)
	if err != nil {
		return err
	}
	defer db.Close()
	const at = "2026-06-01T10:00:01.000000Z"
	if err := sharingtest.WriteDisclosures(ctx, db, n, w.logistics, "phone,address", at, "dla_"); err != nil {
		return err
	}
	if err := sharingtest.WriteDisclosures(ctx, db, n, w.manufacturer, "email", at, "dlb_"); err != nil {
		return err
	}
	return db.Checkpoint(ctx)
}

// benchBreach: a breach at the carrier over this year, among n orders all
// disclosed to it: its impact computed when it is recorded and again on
// demand, against a plain count of the same disclosures joined to their
// orders on the same database.
func benchBreach(w *world, n int, call func(method, path, body string) (int, []byte, error)) (row, error) {
	from := time.Date(time.Now().Year(), 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	impact := &latencies{}
	t0 := time.Now()
	st, b, err := call("POST", "/v1/breaches", fmt.Sprintf(`{"where":[%q],"from":%q,"aware_at":%q,"description":"bench"}`,
		w.logistics, from, time.Now().UTC().Format(time.RFC3339)))
	if err != nil || st != 201 {
		return row{}, fmt.Errorf("open breach: %d %.200s %v", st, b, err)
	}
	impact.add(time.Since(t0))
	var br struct {
		ID     string
		Impact struct{ Orders, Persons int }
	}
	json.Unmarshal(b, &br)
	if br.Impact.Orders != n {
		return row{}, fmt.Errorf("the breach counts %d orders, want %d: %.300s", br.Impact.Orders, n, b)
	}
	for range 4 {
		t0 := time.Now()
		if st, b, err := call("POST", "/v1/breaches/"+br.ID+"/impact", ""); err != nil || st != 200 {
			return row{}, fmt.Errorf("recompute: %d %.200s %v", st, b, err)
		}
		impact.add(time.Since(t0))
	}
	ctx := context.Background()
	db, err := store.Open(ctx, w.db)
	if err != nil {
		return row{}, err
	}
	defer db.Close()
	floor := &latencies{}
	for range 5 {
		var count int
		t0 := time.Now()
		if err := db.Reader.GetContext(ctx, &count, `SELECT COUNT(*) FROM deliveries d JOIN orders o ON o.id = d.order_id
			WHERE d.partner_id = $1 AND d.event_type = 'order.created'`, w.logistics); err != nil || count != n {
			return row{}, fmt.Errorf("floor count: %d %v", count, err)
		}
		floor.add(time.Since(t0))
	}
	return row{fmt.Sprintf("breach impact at one recipient over a year among %d orders (%d persons), p50 / max of 5", n, br.Impact.Persons),
		ms(impact.pct(50)) + " / " + ms(impact.pct(100)), ms(floor.pct(50)) + " (COUNT(*) of its disclosures joined to their orders)",
		fmt.Sprintf("%.1f×", float64(impact.pct(50))/float64(max(floor.pct(50), 1))), "< 2 s"}, nil
}
