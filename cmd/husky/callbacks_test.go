package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
)

// recipientEnv is a testEnv with two recipients whose webhooks land in
// sinks, a running dispatcher, and helpers to send signed callbacks.
type recipientEnv struct {
	*testEnv
	logistics, maker      partners.Partner
	lSecret, mSecret      string
	lSink, mSink, resSink *hookSink
	resellerSecret        string
	seq                   atomic.Int64
}

func newRecipientEnv(t *testing.T) *recipientEnv {
	t.Helper()
	e := &recipientEnv{testEnv: newTestEnv(t), lSink: newHookSink(t), mSink: newHookSink(t), resSink: newHookSink(t)}
	ctx := context.Background()
	var err error
	if e.logistics, e.lSecret, err = e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: e.lSink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if e.maker, e.mSecret, err = e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindManufacturer, Name: "Maker", EndpointURL: e.mSink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "PUT", "/v1/webhook-endpoint", e.keyA, strings.NewReader(`{"url":"`+e.resSink.srv.URL+`"}`))
	if r.status != 200 {
		t.Fatalf("register reseller endpoint: %d %s", r.status, r.body)
	}
	e.resellerSecret = r.json(t)["secret"].(string)
	dctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go e.app.Dispatcher.Run(dctx)
	return e
}

// callback sends a callback signed with secret; id "" picks a fresh webhook-id.
func (e *recipientEnv) callback(t *testing.T, p partners.Partner, secret, id string, ts time.Time, typ string, data map[string]any) response {
	t.Helper()
	if id == "" {
		id = fmt.Sprintf("cb_%d", e.seq.Add(1))
	}
	body, _ := json.Marshal(map[string]any{"type": typ, "timestamp": ts.UTC().Format(time.RFC3339), "data": data})
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/callbacks/"+p.ID, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		if err := partners.SetHeaders(req.Header, []string{secret}, id, ts, body); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b []byte
	b, _ = ioReadAll(res)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *recipientEnv) orderStatus(t *testing.T, id string) map[string]any {
	t.Helper()
	r := e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil)
	if r.status != 200 {
		t.Fatalf("get order: %d", r.status)
	}
	return r.json(t)
}

func (e *recipientEnv) sharedOrder(t *testing.T, ref string) string {
	t.Helper()
	id := e.submit(t, e.keyA, sampleOrder(t, withRef(ref)))["id"].(string)
	waitUntil(t, "shared", func() bool { return e.orderStatus(t, id)["status"] == "shared" })
	return id
}

func TestSignedCallbacksMoveTheOrder(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	now := time.Now()
	steps := []struct {
		p      partners.Partner
		secret string
		typ    string
		data   map[string]any
		want   string
	}{
		{e.maker, e.mSecret, "order.accepted", map[string]any{"order_id": id, "estimated_ship_date": "2026-12-10"}, "accepted"},
		{e.logistics, e.lSecret, "order.shipped", map[string]any{"order_id": id, "carrier": "PostNord", "tracking_number": "00370712345", "tracking_url": "https://tracking.example/00370712345"}, "shipped"},
		{e.logistics, e.lSecret, "order.delivered", map[string]any{"order_id": id}, "delivered"},
	}
	for _, s := range steps {
		r := e.callback(t, s.p, s.secret, "", now, s.typ, s.data)
		if r.status != 200 || r.json(t)["outcome"] != "applied" {
			t.Fatalf("%s: %d %s", s.typ, r.status, r.body)
		}
		if got := e.orderStatus(t, id)["status"]; got != s.want {
			t.Fatalf("after %s: status %v, want %s", s.typ, got, s.want)
		}
	}
	o := e.orderStatus(t, id)
	if o["closed_at"] == nil {
		t.Error("a delivered order has no closed_at")
	}
	ships := o["shipments"].([]any)
	if len(ships) != 1 || ships[0].(map[string]any)["tracking_number"] != "00370712345" {
		t.Errorf("shipments %v", ships)
	}
	recips := o["recipients"].([]any)
	if len(recips) != 2 {
		t.Errorf("recipients %v", recips)
	}
	evs := e.do(t, "GET", "/v1/orders/"+id+"/events", e.keyA, nil).json(t)["data"].([]any)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "order.created,order.shared,order.accepted,order.shipped,order.delivered" {
		t.Errorf("timeline %v", types)
	}
	if r := e.do(t, "GET", "/v1/orders/"+id+"/events", e.keyB, nil); r.status != 404 {
		t.Errorf("another reseller reads the timeline: %d", r.status)
	}
	// The reseller's webhook fired on every transition, signed with its secret, without personal data.
	waitUntil(t, "reseller webhooks", func() bool { return e.resSink.count() == 4 })
	for i := range 4 {
		req, body := e.resSink.at(i)
		if err := partners.Verify([]string{e.resellerSecret}, req.Header, body, time.Now()); err != nil {
			t.Errorf("reseller webhook %d: %v", i, err)
		}
		for _, p := range []string{"Jane Doe", "jane@example.dk", "+4533123456", "Banemarksvej"} {
			if strings.Contains(string(body), p) {
				t.Errorf("reseller webhook carries %q", p)
			}
		}
	}
}

func TestUnsignedTamperedReplayedAndStaleCallbacksChangeNothing(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	now := time.Now()
	accept := map[string]any{"order_id": id}
	if r := e.callback(t, e.maker, "", "", now, "order.accepted", accept); r.status != 401 {
		t.Errorf("unsigned: %d", r.status)
	}
	if r := e.callback(t, e.maker, e.lSecret, "", now, "order.accepted", accept); r.status != 401 {
		t.Errorf("signed with another partner's secret: %d", r.status)
	}
	if r := e.callback(t, e.maker, e.mSecret, "", now.Add(-6*time.Minute), "order.accepted", accept); r.status != 401 {
		t.Errorf("stale: %d", r.status)
	}
	// Tampered: valid signature over another body.
	body := `{"type":"order.accepted","data":{"order_id":"` + id + `"}}`
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/callbacks/"+e.maker.ID, strings.NewReader(strings.Replace(body, "accepted", "shipped", 1)))
	req.Header.Set("Content-Type", "application/json")
	partners.SetHeaders(req.Header, []string{e.mSecret}, "cb_t", now, []byte(body))
	if res, _ := http.DefaultClient.Do(req); res.StatusCode != 401 {
		t.Errorf("tampered: %d", res.StatusCode)
	}
	if got := e.orderStatus(t, id)["status"]; got != "shared" {
		t.Fatalf("refused callbacks moved the order to %v", got)
	}
	// Replayed webhook-id: acknowledged again, applied once.
	first := e.callback(t, e.maker, e.mSecret, "cb_same", now, "order.accepted", accept)
	again := e.callback(t, e.maker, e.mSecret, "cb_same", now, "order.accepted", accept)
	if first.status != 200 || again.status != 200 || string(first.body) != string(again.body) {
		t.Errorf("replay: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	evs := e.do(t, "GET", "/v1/orders/"+id+"/events", e.keyA, nil).json(t)["data"].([]any)
	n := 0
	for _, ev := range evs {
		if ev.(map[string]any)["type"] == "order.accepted" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("accepted applied %d times", n)
	}
	// An unknown partner id answers like a bad signature.
	unknown := partners.Partner{ID: "ptn_00000000000000000000000000000000"}
	if r := e.callback(t, unknown, e.mSecret, "", now, "order.accepted", accept); r.status != 401 {
		t.Errorf("unknown partner: %d", r.status)
	}
}

func TestOutOfOrderEventsLeaveFurthestState(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	now := time.Now()
	shipped := e.callback(t, e.logistics, e.lSecret, "", now, "order.shipped", map[string]any{"order_id": id, "carrier": "GLS", "tracking_number": "T1"})
	late := e.callback(t, e.maker, e.mSecret, "", now, "order.accepted", map[string]any{"order_id": id})
	if shipped.json(t)["outcome"] != "applied" || late.status != 200 || late.json(t)["outcome"] != "ignored" {
		t.Fatalf("shipped %s, late accepted %d %s", shipped.body, late.status, late.body)
	}
	if got := e.orderStatus(t, id)["status"]; got != "shipped" {
		t.Errorf("status %v, want shipped", got)
	}
	// Rejecting a shipped order is illegal.
	if r := e.callback(t, e.maker, e.mSecret, "", now, "order.rejected", map[string]any{"order_id": id, "reason_code": "out_of_stock"}); r.status != 409 {
		t.Errorf("reject after ship: %d %s", r.status, r.body)
	}
	// Cancel after shipping is refused for the reseller too.
	if r := e.do(t, "POST", "/v1/orders/"+id+"/cancel", e.keyA, nil); r.status != 409 {
		t.Errorf("cancel after ship: %d", r.status)
	}
}

func TestShippedAfterCancelIsAConflict(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	if r := e.do(t, "POST", "/v1/orders/"+id+"/cancel", e.keyA, nil); r.status != 200 {
		t.Fatalf("cancel: %d", r.status)
	}
	waitUntil(t, "order.cancelled to both", func() bool { return e.lSink.count() == 2 && e.mSink.count() == 2 })
	r := e.callback(t, e.logistics, e.lSecret, "", time.Now(), "order.shipped", map[string]any{"order_id": id, "carrier": "GLS", "tracking_number": "T1"})
	if r.status != 200 || r.json(t)["outcome"] != "conflict" {
		t.Fatalf("shipped after cancel: %d %s", r.status, r.body)
	}
	if got := e.orderStatus(t, id)["status"]; got != "cancelled" {
		t.Errorf("status %v", got)
	}
	c := e.do(t, "GET", "/v1/conflicts", e.admin, nil).json(t)["data"].([]any)
	if len(c) != 1 || c[0].(map[string]any)["order_id"] != id {
		t.Errorf("conflicts %v", c)
	}
	// The conflicts carry recipients' free text: reading them is audited.
	if !strings.Contains(auditText(t, e.testEnv), "order.viewed "+id) || !strings.Contains(auditText(t, e.testEnv), `"route":"conflicts"`) {
		t.Error("reading the conflicts left no order.viewed in the audit trail")
	}
}

func TestCallbackRefusesUnknownTypesAndOrdersNotShared(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	r := e.callback(t, e.maker, e.mSecret, "", time.Now(), "order.teleported", map[string]any{"order_id": id})
	if r.status != 422 || !strings.Contains(string(r.body), `"pointer":"/type"`) {
		t.Errorf("unknown type: %d %s", r.status, r.body)
	}
	r = e.callback(t, e.maker, e.mSecret, "", time.Now(), "order.shipped", map[string]any{"order_id": id})
	if r.status != 422 || !strings.Contains(string(r.body), "/data/carrier") || !strings.Contains(string(r.body), "/data/tracking_number") {
		t.Errorf("missing shipment fields: %d %s", r.status, r.body)
	}
	r = e.callback(t, e.maker, e.mSecret, "", time.Now(), "order.accepted", map[string]any{"order_id": "ord_00000000000000000000000000000000"})
	if r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("order never sent: %d %s", r.status, r.body)
	}
	es, _ := e.app.Audit.ByOrder(context.Background(), id, 100)
	if _, err := e.app.Audit.IntegrateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var refused int
	rows, _ := e.app.DB.Reader.Query(`SELECT COUNT(*) FROM audit_entries WHERE action = 'callback.refused'`)
	for rows.Next() {
		rows.Scan(&refused)
	}
	rows.Close()
	if refused != 3 {
		t.Errorf("%d refused callbacks recorded, want 3 (entries for order: %d)", refused, len(es))
	}
}

func TestResellerWebhookNeverCarriesAnotherResellersOrder(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	bSink := newHookSink(t)
	if r := e.do(t, "PUT", "/v1/webhook-endpoint", e.keyB, strings.NewReader(`{"url":"`+bSink.srv.URL+`"}`)); r.status != 200 {
		t.Fatal(r.status)
	}
	idA := e.sharedOrder(t, "PO-A")
	idB := e.submit(t, e.keyB, sampleOrder(t, withRef("PO-B")))["id"].(string)
	waitUntil(t, "B's order shared", func() bool {
		r := e.do(t, "GET", "/v1/orders/"+idB, e.keyB, nil)
		return r.json(t)["status"] == "shared"
	})
	waitUntil(t, "both resellers notified", func() bool { return e.resSink.count() >= 1 && bSink.count() >= 1 })
	time.Sleep(100 * time.Millisecond)
	for i := range e.resSink.count() {
		_, b := e.resSink.at(i)
		if strings.Contains(string(b), idB) {
			t.Errorf("reseller A got B's order")
		}
	}
	for i := range bSink.count() {
		_, b := bSink.at(i)
		if strings.Contains(string(b), idA) {
			t.Errorf("reseller B got A's order")
		}
	}
}

func TestCallbackWebhookIDMustBeAToken(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-1")
	r := e.callback(t, e.maker, e.mSecret, "jane@example.dk", time.Now(), "order.accepted", map[string]any{"order_id": id})
	if r.status != 400 {
		t.Errorf("free-text webhook-id: %d %s", r.status, r.body)
	}
	if strings.Contains(e.logs.String(), "jane@example.dk") {
		t.Error("the webhook-id reached the log")
	}
}
