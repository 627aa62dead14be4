package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/partners"
)

func TestOperatorClosesAStaleOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	sink := newHookSink(t)
	lp, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: sink.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// An order from 2019 that never reached a final state.
	line := fmt.Sprintf(`{"reference":"LEG-OPEN","customer":{"name":"Olga Open","email":"olga@open.example","phone":"+4521100000"},`+
		`"ship_to":{"line1":"Open Road 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"shared","disclosed_to":[%q]}`, e.resellerA.ID, lp.ID)
	rep, err := e.app.Orders.Import(ctx, "test", []byte(line), false)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	id := rep.OrderIDs[0]
	report := e.do(t, "GET", "/v1/purge/report", e.finance, nil).json(t)
	if n := len(report["stale"].([]any)); n != 1 || !strings.Contains(report["stale_action"].(string), "husky orders close") {
		t.Fatalf("the report does not list the stale order with how to close it: %v", report)
	}

	// Every problem of a bad request at once, with a pointer each.
	bad := e.do(t, "POST", "/v1/admin/orders/"+id+"/close", e.admin, strings.NewReader(`{"as":"shipped","at":"2099-01-01T00:00:00Z","reason":""}`))
	if bad.status != 422 || strings.Count(string(bad.body), `"pointer"`) != 3 {
		t.Fatalf("bad close: %d %s", bad.status, bad.body)
	}
	if r := e.do(t, "POST", "/v1/admin/orders/"+id+"/close", e.keyA, strings.NewReader(`{}`)); r.status != 403 {
		t.Errorf("a reseller closed an order: %d", r.status)
	}
	const reason = "Customer Olga confirmed by phone that nothing arrived"
	body, _ := json.Marshal(map[string]string{"as": "cancelled", "at": "2019-06-01T12:00:00Z", "reason": reason})
	r := e.do(t, "POST", "/v1/admin/orders/"+id+"/close", e.admin, bytes.NewReader(body))
	if r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	closed := r.json(t)
	if closed["status"] != "cancelled" || closed["closed_at"] != "2019-06-01T12:00:00Z" || closed["fiscal_year"] != float64(2019) {
		t.Errorf("closed: %v", closed)
	}
	if bytes.Contains(r.body, []byte("olga")) {
		t.Errorf("the close answer shows personal data: %s", r.body)
	}
	if again := e.do(t, "POST", "/v1/admin/orders/"+id+"/close", e.admin, bytes.NewReader(body)); again.status != 409 {
		t.Errorf("closing a closed order: %d", again.status)
	}
	// The recipient that received it is told it is cancelled.
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	go e.app.Dispatcher.Run(dctx)
	waitUntil(t, "order.cancelled to the recipient", func() bool {
		for i := range sink.count() {
			if _, b := sink.at(i); bytes.Contains(b, []byte(`"order.cancelled"`)) && bytes.Contains(b, []byte(id)) {
				return true
			}
		}
		return false
	})
	// Retention counts from the close: fiscal year 2019 is past it.
	report = e.do(t, "GET", "/v1/purge/report", e.finance, nil).json(t)
	if len(report["stale"].([]any)) != 0 || len(report["purgeable"].([]any)) != 1 {
		t.Errorf("after the close: %v", report)
	}
	// The audit trail holds the reason's hash, not the reason.
	sum := sha256.Sum256([]byte(reason))
	es, _ := e.app.Audit.ByOrder(ctx, id, 100)
	found := false
	for _, en := range es {
		if en.Action == "order.closed" && en.Details["reason_sha256"] == hex.EncodeToString(sum[:]) {
			found = true
		}
		if b, _ := json.Marshal(en); bytes.Contains(b, []byte("Olga")) {
			t.Errorf("audit entry holds the reason: %s", b)
		}
	}
	if !found {
		t.Error("no order.closed entry with the reason's hash")
	}
	view := e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil).json(t)
	if view["close_reason"] != reason {
		t.Errorf("admin view: %v", view)
	}
	// The purge erases the reason with the rest.
	if _, err := e.app.Purger.PurgeNow(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	stop()
	time.Sleep(50 * time.Millisecond)
	if err := e.app.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if raw := rawFiles(t, e.app.Config.DB); bytes.Contains(raw, []byte("confirmed by phone")) {
		t.Error("the close reason survived the purge")
	}
}

func TestOrdersCloseCLIChecksBeforeWriting(t *testing.T) {
	t.Parallel()
	db := t.TempDir() + "/husky.db"
	env := dbEnv(t, db)
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	line := fmt.Sprintf(`{"reference":"OPEN-1","customer":{"name":"A","email":"a@b.example","phone":"+4521100000"},`+
		`"ship_to":{"line1":"Road 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2020-02-11T09:00:00Z","status":"received"}`, p["id"])
	file := t.TempDir() + "/open.jsonl"
	writeFile(t, file, line+"\n")
	id := husky(t, env, "orders", "import", file)["order_ids"].([]any)[0].(string)
	if code, _, _ := runExit(t, env, "orders", "close", id, "--as", "shipped", "--reason", "x"); code != 2 {
		t.Errorf("--as shipped: exit %d, want 2", code)
	}
	got := husky(t, env, "orders", "close", id, "--as", "delivered", "--at", "2020-03-01T10:00:00Z", "--reason", "signed delivery note on file")
	if got["status"] != "delivered" || got["fiscal_year"] != float64(2020) {
		t.Errorf("close: %v", got)
	}
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	if cfg, err := configWith(map[string]string{"HUSKY_DB": t.TempDir() + "/husky.db"}); err != nil || cfg.RateLimit != 100 {
		t.Fatalf("default rate limit %v (%v), want 100 requests per second", cfg.RateLimit, err)
	}
	e := newTestEnvWith(t, func(c *app.Config) { c.RateLimit = 5 }) // bursts of 10
	limited := 0
	for i := range 12 {
		r := e.do(t, "GET", "/v1/catalog", e.keyA, nil)
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if r.header.Get(h) == "" {
				t.Errorf("answer %d lacks %s", i, h)
			}
		}
		if r.status == http.StatusTooManyRequests {
			limited++
			if r.header.Get("Retry-After") == "" || r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("429 without Retry-After or problem+json: %v", r.header)
			}
		}
	}
	if limited < 1 || limited > 2 {
		t.Errorf("%d of 12 requests limited, want 1 or 2 past a burst of 10", limited)
	}
	if r := e.do(t, "GET", "/v1/catalog", e.keyB, nil); r.status != 200 || r.header.Get("RateLimit-Remaining") != "9" {
		t.Errorf("another key: %d remaining %s", r.status, r.header.Get("RateLimit-Remaining"))
	}
}
