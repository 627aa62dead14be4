package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookSink is a recipient's endpoint that keeps every request.
type hookSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []*http.Request
	raw [][]byte
}

func newHookSink(t *testing.T) *hookSink {
	t.Helper()
	s := &hookSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got, s.raw = append(s.got, r), append(s.raw, b)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *hookSink) at(i int) (*http.Request, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[i], s.raw[i]
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEndToEndSharingThroughTheBinary(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "husky.db")
	env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true", "HUSKY_RETRY_SCHEDULE=100ms,100ms")
	logistics, maker := newHookSink(t), newHookSink(t)
	lp := husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", logistics.srv.URL)
	husky(t, env, "partners", "add", "--kind", "manufacturer", "--name", "Maker", "--endpoint", maker.srv.URL, "--fields", "email,address")
	rp := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", rp["id"].(string))["api_key"].(string)
	admin := husky(t, env, "keys", "create", "--role", "admin")["api_key"].(string)

	s := startServer(t, env)
	call := func(method, path, key, body string) (int, map[string]any) {
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
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	status, order := call("POST", "/v1/orders", key, sampleOrder(t))
	if status != 201 {
		t.Fatalf("submit: %d %v", status, order)
	}
	waitUntil(t, "both recipients", func() bool { return logistics.count() == 1 && maker.count() == 1 })

	lsecret := lp["webhook_secret"].(string)
	req, body := logistics.at(0)
	wh, _ := standardwebhooks.NewWebhook(lsecret)
	if err := wh.Verify(body, req.Header); err != nil {
		t.Errorf("logistics cannot verify: %v", err)
	}
	if !strings.Contains(string(body), "+4533123456") || strings.Contains(string(body), "Jane Doe") || strings.Contains(string(body), "reseller's own use") {
		t.Errorf("logistics payload: %s", body)
	}
	_, mbody := maker.at(0)
	if strings.Contains(string(mbody), "+4533123456") || !strings.Contains(string(mbody), "jane@example.dk") {
		t.Errorf("manufacturer allow-list (email,address) not applied: %s", mbody)
	}

	// Rotation: both the new and the old secret sign during the grace period.
	rot := husky(t, env, "partners", "rotate-secret", lp["partner"].(map[string]any)["id"].(string))
	time.Sleep(1100 * time.Millisecond) // the dispatcher caches secrets for a second
	if st, _ := call("POST", "/v1/orders/"+order["id"].(string)+"/cancel", key, ""); st != 200 {
		t.Fatalf("cancel: %d", st)
	}
	waitUntil(t, "order.cancelled", func() bool { return logistics.count() == 2 && maker.count() == 2 })
	req, body = logistics.at(1)
	if !strings.Contains(string(body), "order.cancelled") {
		t.Errorf("second webhook: %s", body)
	}
	for _, sec := range []string{lsecret, rot["webhook_secret"].(string)} {
		wh, _ := standardwebhooks.NewWebhook(sec)
		if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("a secret valid during rotation does not verify: %v", err)
		}
	}

	// Operators see the deliveries over the admin API and the CLI, and can replay.
	var page map[string]any
	waitUntil(t, "four deliveries recorded as delivered", func() bool {
		st, p := call("GET", "/v1/deliveries?status=delivered", admin, "")
		page = p
		return st == 200 && len(p["data"].([]any)) == 4
	})
	if st, _ := call("GET", "/v1/deliveries", key, ""); st != 403 {
		t.Errorf("reseller key on admin API: %d", st)
	}
	first := page["data"].([]any)[3].(map[string]any)
	if st, _ := call("POST", "/v1/deliveries/"+first["id"].(string)+"/replay", admin, ""); st != 202 {
		t.Errorf("replay: %d", st)
	}
	waitUntil(t, "replayed delivery", func() bool { return logistics.count()+maker.count() == 5 })
	waitUntil(t, "replay recorded", func() bool {
		_, p := call("GET", "/v1/deliveries?status=delivered", admin, "")
		return len(p["data"].([]any)) == 4
	})
	list := husky(t, env, "deliveries", "list", "--status", "delivered")
	if n := len(list["data"].([]any)); n != 4 {
		t.Errorf("CLI lists %d delivered", n)
	}

	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{`husky_delivery_attempts_total{outcome="delivered"} 5`, "husky_delivery_backlog 0",
		"husky_delivery_attempt_duration_seconds_bucket", "husky_delivery_oldest_due_age_seconds", `husky_http_requests_total{method="POST",route="/v1/orders",status="201"} 1`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	s.stop(t)
}
