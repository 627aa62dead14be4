package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// echoSink is a recipient that answers every webhook with a body naming
// canary, as a careless receiver echoing data back would.
type echoSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []string
}

func newEchoSink(t *testing.T, canary string) *echoSink {
	t.Helper()
	s := &echoSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &ev)
		s.mu.Lock()
		s.events = append(s.events, ev.Type)
		s.mu.Unlock()
		fmt.Fprintf(w, `{"received":"%s","echo":"%s"}`, ev.Type, canary)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *echoSink) count(event string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e == event {
			n++
		}
	}
	return n
}

// signedCallback posts a callback for orderID signed by secret.
func signedCallback(t *testing.T, base, partnerID, secret, id, typ string, data map[string]any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": typ, "timestamp": time.Now().UTC().Format(time.RFC3339), "data": data})
	req, _ := http.NewRequest("POST", base+"/v1/callbacks/"+partnerID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		if err := partners.SetHeaders(req.Header, []string{secret}, id, time.Now(), body); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestErasedOrdersKeepNothingRecipientsSendLater fills every path by which
// a recipient can write about an order after its purge with distinctive
// values, and reads the raw database files: none of them may be there.
func TestErasedOrdersKeepNothingRecipientsSendLater(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	const echo = "ECHO-CANARY-7f3a"
	sink := newEchoSink(t, echo)
	lp, lsecret, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: sink.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// An order closed in 2019 and disclosed to the carrier: past retention.
	line := fmt.Sprintf(`{"reference":"LEG-1","customer":{"name":"Erna Erased","email":"erna@erased.example","phone":"+4521100000"},`+
		`"ship_to":{"line1":"Gone Street 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"cancelled","closed_at":"2019-03-01T10:00:00Z","disclosed_to":[%q]}`,
		e.resellerA.ID, lp.ID)
	rep, err := e.app.Orders.Import(ctx, "test", []byte(line), false)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	orderID := rep.OrderIDs[0]
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	run, err := e.app.Purger.PurgeNow(ctx, "test")
	if err != nil || run.Counts.Erased != 1 {
		t.Fatalf("purge: %+v %v", run, err)
	}
	// The erasure notice is delivered and answered with an echo.
	waitUntil(t, "erasure notice answered", func() bool { return sink.count("order.erased") == 1 })
	waitUntil(t, "notice recorded", func() bool {
		ds, _, _ := e.app.Deliveries.List(ctx, deliveryFilter(orderID))
		for _, d := range ds {
			if d.EventType == "order.erased" && d.Status == "delivered" {
				return true
			}
		}
		return false
	})

	// Callbacks about the erased order: answered, recorded by type and
	// outcome, their bodies kept nowhere.
	canaries := []string{"REJECT-MESSAGE-CANARY", "CARRIER-CANARY", "TRACKING-NUMBER-CANARY", "TRACKURL-CANARY", echo}
	for i, cb := range []struct {
		typ  string
		data map[string]any
	}{
		{"order.rejected", map[string]any{"reason_code": "out_of_stock", "message": "Call REJECT-MESSAGE-CANARY about it"}},
		{"order.shipped", map[string]any{"carrier": "CARRIER-CANARY", "tracking_number": "TRACKING-NUMBER-CANARY",
			"tracking_url": "https://track.example/TRACKURL-CANARY"}},
		{"order.accepted", map[string]any{"estimated_ship_date": "2031-01-02"}},
	} {
		cb.data["order_id"] = orderID
		r := signedCallback(t, e.srv.URL, lp.ID, lsecret, fmt.Sprintf("late-%d", i), cb.typ, cb.data)
		if r.status != http.StatusOK {
			t.Fatalf("%s for an erased order: %d %s", cb.typ, r.status, r.body)
		}
	}
	r := signedCallback(t, e.srv.URL, lp.ID, lsecret, "ack-1", "order.erasure_confirmed", map[string]any{"order_id": orderID})
	if r.status != http.StatusOK {
		t.Fatalf("erasure confirmation: %d %s", r.status, r.body)
	}
	got, err := e.app.Purger.Get(ctx, run.ID)
	if err != nil || len(got.Recipients) != 1 || got.Recipients[0].Acknowledged != 1 {
		t.Errorf("erasure confirmation not applied: %+v %v", got.Recipients, err)
	}
	evs, err := e.app.Orders.Events(ctx, "", orderID)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, ev := range evs {
		types[ev.Type] = ev.Outcome
		if len(ev.Details) > 0 {
			t.Errorf("event %s of the erased order keeps details %v", ev.Type, ev.Details)
		}
	}
	for _, typ := range []string{"order.rejected", "order.shipped", "order.erasure_confirmed"} {
		if types[typ] == "" {
			t.Errorf("callback %s is not in the timeline: %v", typ, types)
		}
	}
	// Nothing to send again: the payload went with the data.
	ds, _, _ := e.app.Deliveries.List(ctx, deliveryFilter(orderID))
	for _, d := range ds {
		if d.EventType == "order.created" {
			if err := e.app.Deliveries.Replay(ctx, "test", d.ID); err == nil || !strings.Contains(err.Error(), "payload_erased") {
				t.Errorf("replay of an erased delivery: %v, want payload_erased", err)
			}
		}
	}

	stop()
	<-done
	if err := e.app.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raw := rawFiles(t, e.app.Config.DB)
	for _, c := range append(canaries, "Erna Erased", "erna@erased.example", "Gone Street 1") {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("%q is in the database files after the order was erased", c)
		}
	}
}

func TestWebhookSecretsAreSealedAtRestAndOldOnesSealedAtStart(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	p, secret, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: "http://127.0.0.1:9/h"})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := e.app.Partners.RotateSecret(ctx, "test", p.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.app.Partners.Secrets(ctx, p.ID)
	if err != nil || len(got) != 2 || got[0] != rotated || got[1] != secret {
		t.Fatalf("secrets read back %v, %v", got, err)
	}
	if storetest.Engine() == store.PostgreSQL {
		// No database from before the keyring is a PostgreSQL one (and an
		// update there leaves the old row version in the file until
		// VACUUM): the secrets written sealed are all there is to check.
		if raw := rawFiles(t, e.app.Config.DB); bytes.Contains(raw, []byte("whsec_")) {
			t.Error("a webhook secret is in the database files in plain text")
		}
		return
	}
	// A database from before the keyring: a secret stored in plain text.
	plain, _ := partners.NewSecret()
	if _, err := e.app.DB.Writer.Exec(`INSERT INTO partner_secrets (partner_id, secret, created_at) VALUES ($1, $2, $3)`,
		p.ID, plain, "2026-01-01T00:00:00.000000Z"); err != nil {
		t.Fatal(err)
	}
	e.app.Close()
	a, err := app.New(ctx, e.app.Config, e.app.Logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err = a.Partners.Secrets(ctx, p.ID)
	if err != nil || len(got) != 3 || got[2] != plain {
		t.Fatalf("after the start that seals them: %v, %v", got, err)
	}
	if err := a.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if raw := rawFiles(t, a.Config.DB); bytes.Contains(raw, []byte("whsec_")) {
		t.Error("a webhook secret is in the database files in plain text")
	}
}

func TestDatabaseAndKeyFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "husky.db")
	env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true")
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")
	s := startServer(t, env)
	// While the server runs, the WAL and shared-memory files exist. (On
	// PostgreSQL the database's files are the server's.)
	files := []string{db + ".keys", db + ".audit-key"}
	if storetest.Engine() == store.SQLite {
		files = append(files, db, db+"-wal", db+"-shm")
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(f), st.Mode().Perm())
		}
	}
	s.stop(t)
	if storetest.Engine() == store.PostgreSQL {
		return
	}
	// A database made readable by others is narrowed again at the next open.
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	husky(t, env, "partners", "list")
	if st, _ := os.Stat(db); st.Mode().Perm() != 0o600 {
		t.Errorf("reopened database has mode %v, want 0600", st.Mode().Perm())
	}
}

func TestEndpointTokenNeverShownOutsideThePartnerRecord(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	const token = "TOKEN-CANARY-91c2"
	// Nothing listens on port 9: every attempt fails with Go's error,
	// which names the whole URL.
	if _, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier",
		EndpointURL: "http://127.0.0.1:9/hook?token=" + token + "&tenant=acme"}); err != nil {
		t.Fatal(err)
	}
	o := e.submit(t, e.keyA, sampleOrder(t))
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	waitUntil(t, "a failed attempt", func() bool {
		ds, _, _ := e.app.Deliveries.List(ctx, deliveryFilter(o["id"].(string)))
		return len(ds) == 1 && ds[0].Attempts > 0
	})
	stop()
	<-done
	list := e.do(t, "GET", "/v1/deliveries?order_id="+o["id"].(string), e.admin, nil)
	var page struct {
		Data []struct {
			ID        string `json:"id"`
			LastError string `json:"last_error"`
		} `json:"data"`
	}
	json.Unmarshal(list.body, &page)
	if len(page.Data) != 1 || !strings.Contains(page.Data[0].LastError, "127.0.0.1:9/hook?") {
		t.Fatalf("last_error %+v does not name the redacted endpoint", page.Data)
	}
	one := e.do(t, "GET", "/v1/deliveries/"+page.Data[0].ID, e.admin, nil)
	var attempts [][]byte
	e.app.DB.Reader.Select(&attempts, `SELECT CAST(error AS BLOB) FROM delivery_attempts`)
	var lastErrors [][]byte
	e.app.DB.Reader.Select(&lastErrors, `SELECT CAST(last_error AS BLOB) FROM deliveries`)
	for name, b := range map[string][]byte{"deliveries list": list.body, "delivery": one.body, "logs": []byte(e.logs.String()),
		"attempt errors": bytes.Join(attempts, nil), "last_error": bytes.Join(lastErrors, nil)} {
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte("acme")) {
			t.Errorf("%s shows the endpoint's query values: %s", name, b)
		}
	}
}

// deliveryFilter lists an order's deliveries.
func deliveryFilter(orderID string) sharing.ListFilter {
	return sharing.ListFilter{OrderID: orderID, Limit: 100}
}
