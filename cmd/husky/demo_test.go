package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoShowsTheWholeLifecycle runs `husky serve --demo` as `make run`
// does and follows an order with the keys the banner printed: the demo
// recipients accept, ship and deliver it with signed callbacks.
func TestDemoShowsTheWholeLifecycle(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "demo.db")
	env := dbEnv(t, db)
	s := startServer(t, env, "--demo")
	var keys map[string]string
	waitUntil(t, "the banner", func() bool {
		keys = bannerKeys(s.stderr.String())
		return len(keys) == 4
	})
	api := func(method, path, key, body string) response {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := ioReadAll(res)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	r := api("POST", "/v1/orders", keys["reseller"], sampleOrder(t))
	if r.status != 201 {
		t.Fatalf("submit with the banner's reseller key: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	var order map[string]any
	for {
		order = api("GET", "/v1/orders/"+id, keys["reseller"], "").json(t)
		if order["status"] == "delivered" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if order["status"] != "delivered" || len(order["shipments"].([]any)) != 1 {
		t.Fatalf("the demo order did not reach delivered with a shipment: %v\n%s", order, s.stderr.String())
	}
	events := api("GET", "/v1/orders/"+id+"/events", keys["reseller"], "").json(t)["data"].([]any)
	var seen []string
	for _, ev := range events {
		seen = append(seen, ev.(map[string]any)["type"].(string))
	}
	for _, want := range []string{"order.created", "order.shared", "order.accepted", "order.shipped", "order.delivered"} {
		if !strings.Contains(strings.Join(seen, " "), want) {
			t.Errorf("timeline %v lacks %s", seen, want)
		}
	}
	if r := api("GET", "/v1/audit/entries?order_id="+id, keys["admin"], ""); r.status != 200 {
		t.Errorf("the banner's admin key: %d %s", r.status, r.body)
	}
	if r := api("GET", "/v1/purge/report", keys["finance"], ""); r.status != 200 {
		t.Errorf("the banner's finance key: %d %s", r.status, r.body)
	}
	received := 0
	lines := strings.Split(s.stderr.String(), "\n")
	for i, l := range lines {
		if !strings.Contains(l, "signature ok") || i+1 >= len(lines) {
			continue
		}
		received++
		if body := lines[i+1]; strings.Contains(body, "Jane Doe") || strings.Contains(body, "stays with us") {
			t.Errorf("a demo recipient received the contact name or the notes: %s", body)
		}
		// What it prints is masked: the terminal shows the shape, not the
		// customer's phone, email or address.
		if body := lines[i+1]; strings.Contains(body, "jane@example.dk") || strings.Contains(body, "33123456") ||
			strings.Contains(body, "Banemarksvej") || strings.Contains(body, "2605") {
			t.Errorf("a demo recipient printed a personal value: %s", body)
		}
	}
	if received < 2 {
		t.Errorf("the demo recipients printed %d webhooks, want one each at least", received)
	}
	s.stop(t)
}

// TestDemoAndRealDatabasesStayApart: a real service refuses a demo
// database, a demo refuses a database with real partners, and a real
// partner cannot be added to a demo database.
func TestDemoAndRealDatabasesStayApart(t *testing.T) {
	t.Parallel()
	demoDB := filepath.Join(t.TempDir(), "demo.db")
	demo := dbEnv(t, demoDB)
	s := startServer(t, demo, "--demo")
	s.stop(t)
	if code, _, stderr := runExit(t, append(demo, "HUSKY_ADDR="+freeAddr(t)), "serve"); code == 0 || !strings.Contains(stderr, "--demo") {
		t.Errorf("serve on a demo database: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runExit(t, demo, "partners", "add", "--kind", "reseller", "--name", "Real Shop"); code == 0 || !strings.Contains(stderr, "--demo") {
		t.Errorf("a real partner added to a demo database: exit %d: %s", code, stderr)
	}
	realDB := filepath.Join(t.TempDir(), "husky.db")
	real := dbEnv(t, realDB)
	husky(t, real, "partners", "add", "--kind", "reseller", "--name", "Real Shop")
	if code, _, stderr := runExit(t, append(real, "HUSKY_ADDR="+freeAddr(t)), "serve", "--demo"); code == 0 || !strings.Contains(stderr, "real partners") {
		t.Errorf("a demo on a database with real partners: exit %d: %s", code, stderr)
	}
}

var bannerKey = regexp.MustCompile(`(?m)^\s+(reseller|admin|finance|privacy)[^:]*:\s+(husky_\w+)$`)

// bannerKeys reads the keys the demo banner printed, by role.
func bannerKeys(out string) map[string]string {
	keys := map[string]string{}
	for _, m := range bannerKey.FindAllStringSubmatch(out, -1) {
		keys[m[1]] = m[2]
	}
	return keys
}
