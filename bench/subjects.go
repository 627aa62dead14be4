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
