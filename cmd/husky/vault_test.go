package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/keys"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
	"github.com/milestone/husky/subjects"
	"github.com/milestone/husky/vault"
)

// canaryOrder is an order whose every personal value is a distinct canary.
func canaryOrder(t *testing.T, ref string) (string, []string) {
	t.Helper()
	tag := strings.ReplaceAll(ref, "-", "")
	vals := map[string]string{
		"name": "Name" + tag, "email": "mail" + strings.ToLower(tag) + "@canary.example", "org": "Org" + tag,
		"line1": "Line1" + tag, "line2": "Line2" + tag, "city": "City" + tag, "postal": "P" + tag[len(tag)-4:],
		"region": "Region" + tag, "notes": "Notes" + tag, "ref": "Ref" + tag,
	}
	body := sampleOrder(t, func(m map[string]any) {
		m["reference"], m["notes"] = vals["ref"], vals["notes"]
		c := m["customer"].(map[string]any)
		c["name"], c["email"] = vals["name"], vals["email"]
		st := m["ship_to"].(map[string]any)
		st["organization"], st["line1"], st["line2"], st["city"], st["region"] = vals["org"], vals["line1"], vals["line2"], vals["city"], vals["region"]
	})
	var out []string
	for k, v := range vals {
		if k != "postal" {
			out = append(out, v)
		}
	}
	return body, out
}

// TestNoPersonalValueOrSecretIsInTheFiles runs orders through every path
// that stores personal data (intake, disclosure with an echoing receiver,
// callbacks with free text and tracking, a legal hold, an operator's
// close, a rectification, a subject request, an erasure) and reads the raw
// database files: no value of any order, live or erased, and no secret.
func TestNoPersonalValueOrSecretIsInTheFiles(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	echo := newEchoSink(t, "ECHOED-BODY-CANARY")
	lp, lsecret, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: echo.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "PUT", "/v1/webhook-endpoint", e.keyA, strings.NewReader(`{"url":"`+echo.srv.URL+`/reseller"}`))
	if r.status != 200 {
		t.Fatalf("reseller endpoint: %d", r.status)
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	var canaries []string
	var ids []string
	for i := range 4 {
		body, vals := canaryOrder(t, fmt.Sprintf("CANARY-%d-7f3a", i))
		canaries = append(canaries, vals...)
		ids = append(ids, e.submit(t, e.keyA, body)["id"].(string))
	}
	waitUntil(t, "disclosures", func() bool { return echo.count("order.created") >= 4 })
	for i, id := range ids[:2] {
		if st := signedCallback(t, e.srv.URL, lp.ID, lsecret, fmt.Sprint("cb-", i), "order.shipped", map[string]any{"order_id": id,
			"carrier": "CARRIER-CANARY", "tracking_number": "TRACK-CANARY", "tracking_url": "https://t.example/TRACKURL-CANARY"}).status; st != 200 {
			t.Fatalf("shipped: %d", st)
		}
	}
	signedCallback(t, e.srv.URL, lp.ID, lsecret, "cb-r", "order.rejected", map[string]any{"order_id": ids[2], "reason_code": "no_stock",
		"message": "REJECT-MESSAGE-CANARY"})
	if _, err := e.app.Holds.Place(ctx, "test", ids[0], "HOLD-REASON-CANARY"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Orders.Close(ctx, "test", ids[3], orders.CloseRequest{As: orders.StatusCancelled, Reason: "CLOSE-REASON-CANARY"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Subjects.Open(ctx, "test", subjects.NewRequest{Type: subjects.TypeAccess, Phone: "+4533123456"}); err != nil {
		t.Fatal(err)
	}
	// Erase one order as a purge would: its data key goes with it. The
	// phone alone matches orders with four emails, so the DPO includes the
	// order, and the erasure runs once its purge date has passed.
	dsr, _ := e.app.Subjects.Open(ctx, "test", subjects.NewRequest{Type: subjects.TypeErasure, Phone: "+4533123456"})
	if _, err := e.app.Subjects.Decide(ctx, "test", dsr.ID, subjects.Decision{Include: []string{ids[3]}, Reason: "named by the caller"}); err != nil {
		t.Fatal(err)
	}
	e.app.Subjects.Clock = func() time.Time { return time.Now().AddDate(7, 0, 0) }
	if out, err := e.app.Subjects.Erase(ctx, "test", dsr.ID); err != nil || len(out) != 1 || out[0].Outcome != subjects.OutcomeErased {
		t.Fatalf("erase: %+v %v", out, err)
	}
	if _, err := e.app.Vault.Get(ctx, e.app.DB.Reader, ids[3]); !errors.Is(err, vault.ErrNoKey) {
		t.Errorf("the erased order's data key: %v, want it destroyed", err)
	}
	// Live data still reads back whole through the API.
	if r := e.do(t, "GET", "/v1/orders/"+ids[1], e.keyA, nil); !bytes.Contains(r.body, []byte(canaries[0][:4])) {
		t.Errorf("a live order does not read back: %s", r.body)
	}
	stop()
	<-done
	if err := e.app.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raw := rawFiles(t, e.app.Config.DB)
	canaries = append(canaries, "CARRIER-CANARY", "TRACK-CANARY", "TRACKURL-CANARY", "REJECT-MESSAGE-CANARY", "HOLD-REASON-CANARY",
		"CLOSE-REASON-CANARY", "ECHOED-BODY-CANARY", "+4533123456", "whsec_", "Jane Doe")
	for _, c := range canaries {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("%q is in the database files", c)
		}
	}
}

func TestBackupsHoldNothingOfAnOrderErasedAfterThemOnceTheirMasterKeyIsPruned(t *testing.T) {
	t.Parallel()
	storetest.SQLiteOnly(t, "husky backup copies a SQLite file (on PostgreSQL it points to the server's backups)")
	if cfg, err := configWith(map[string]string{"HUSKY_DB": t.TempDir() + "/husky.db"}); err != nil || cfg.BackupRetention != 840*time.Hour || cfg.KeyRotation != 720*time.Hour {
		t.Fatalf("defaults: retention %v, rotation %v (%v); want 840h and 720h", cfg.BackupRetention, cfg.KeyRotation, err)
	}
	// Backups are kept for no time at all here, so that pruning destroys
	// the retired key at once.
	e := newTestEnvWith(t, func(c *app.Config) { c.BackupRetention = 0 })
	ctx := context.Background()
	erasedBody, erasedVals := canaryOrder(t, "ERASED-0001")
	erased := e.submit(t, e.keyA, erasedBody)["id"].(string)
	liveBody, liveVals := canaryOrder(t, "LIVE-0002")
	live := e.submit(t, e.keyA, liveBody)["id"].(string)
	dir := t.TempDir()
	before := filepath.Join(dir, "before.db")
	if _, err := e.app.DB.Backup(ctx, before); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(before); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v", st.Mode().Perm())
	}
	// The order is cancelled and erased on request once its purge date has
	// passed (before, bookkeeping keeps it).
	e.do(t, "POST", "/v1/orders/"+erased+"/cancel", e.keyA, nil)
	e.app.Subjects.Clock = func() time.Time { return time.Now().AddDate(7, 0, 0) }
	var email string
	for _, v := range erasedVals {
		if strings.Contains(v, "@") {
			email = v
		}
	}
	dsr, err := e.app.Subjects.Open(ctx, "test", subjects.NewRequest{Type: subjects.TypeErasure, Email: email})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.app.Subjects.Erase(ctx, "test", dsr.ID); err != nil || len(out) != 1 || out[0].Outcome != subjects.OutcomeErased {
		t.Fatalf("erase: %+v %v", out, err)
	}
	res, err := e.app.Keys.Rotate(ctx, "test", 0)
	if err != nil || res.Version != 2 || res.Rewrapped != 1 {
		t.Fatalf("rotate: %+v %v", res, err)
	}
	gone, err := e.app.Keys.Prune(ctx, "test")
	if err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	after := filepath.Join(dir, "after.db")
	if _, err := e.app.DB.Backup(ctx, after); err != nil {
		t.Fatal(err)
	}

	// The backup from before: its data keys were wrapped by version 1,
	// which is gone; nothing in it opens, and no value is in plain text.
	b, _ := os.ReadFile(before)
	for _, v := range append(erasedVals, liveVals...) {
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("%q is in the old backup in plain text", v)
		}
	}
	old := openBackup(t, before, e.app.Config.Keyring)
	if _, err := old.Vault.Get(ctx, old.DB.Reader, erased); !errors.Is(err, keyring.ErrUnknownVersion) {
		t.Errorf("the erased order's key in the old backup: %v, want it unopenable", err)
	}
	if err := old.Keys.Check(ctx); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("starting on the old backup: %v, want a refusal that says why", err)
	}
	// The backup from after the rotation restores every live order whole.
	restored := openBackup(t, after, e.app.Config.Keyring)
	if err := restored.Keys.Check(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := restored.Orders.Get(ctx, "", live)
	if err != nil {
		t.Fatal(err)
	}
	if o.Customer.Name == "" || !strings.Contains(strings.Join(liveVals, " "), o.Customer.Name) || o.Notes == "" {
		t.Errorf("restored order: %+v", o.Customer)
	}
	if o, err := restored.Orders.Get(ctx, "", erased); err != nil || o.ErasedAt == nil || o.Customer.Name != "" {
		t.Errorf("the erased order in the new backup: %+v %v", o, err)
	}
}

// openBackup opens a copy of a backup with the given keyring, without
// starting the service's checks, as someone restoring it would look.
func openBackup(t *testing.T, path, ring string) *app.App {
	t.Helper()
	cfg := testConfig(t)
	cfg.DB, cfg.Keyring, cfg.AuditKey = path, ring, path+".audit-key"
	a := &app.App{Config: cfg}
	db, err := store.Open(context.Background(), cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := keyring.Load(ring)
	if err != nil {
		t.Fatal(err)
	}
	a.DB, a.Keyring, a.Vault = db, k, &vault.Vault{DB: db, Keyring: k}
	a.Partners = &partners.Store{DB: db, Sealer: k}
	a.Orders = &orders.Service{DB: db, Vault: a.Vault, Hash: k.Hash}
	a.Keys = &keys.Lifecycle{DB: db, Keyring: k, Vault: a.Vault, Partners: a.Partners, Orders: a.Orders, KeyringPath: ring}
	return a
}

func TestServeRefusesAKeyringThatCannotOpenTheData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := dbEnv(t, filepath.Join(dir, "husky.db"))
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", p["id"].(string))["api_key"].(string)
	s := startServer(t, env)
	req, _ := http.NewRequest("POST", s.url+"/v1/orders", strings.NewReader(sampleOrder(t)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("submit: %v", err)
	}
	s.stop(t)
	code, _, stderr := runExit(t, append(env, "HUSKY_KEYRING="+filepath.Join(dir, "other.keys"), "HUSKY_ADDR="+freeAddr(t)), "serve")
	if code == 0 || !strings.Contains(stderr, "cannot be read") || !strings.Contains(stderr, "Restore the keyring") {
		t.Errorf("serve with another keyring: exit %d: %s", code, stderr)
	}
}

func TestRotationFromTheCLITakesEffectInTheRunningService(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "husky.db")
	env := append(dbEnv(t, db), "HUSKY_RATE_LIMIT=off")
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", p["id"].(string))["api_key"].(string)
	s := startServer(t, env)
	submit := func(ref string) string { return s.submit(t, key, ref) }
	first := submit("PO-BEFORE")
	rot := husky(t, env, "keys", "rotate")
	if rot["version"] != float64(2) || rot["data_keys_rewrapped"] != float64(1) {
		t.Errorf("rotate: %v", rot)
	}
	second := submit("PO-AFTER")
	s.stop(t)
	a, err := app.New(context.Background(), mustConfig(t, env), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	versions, err := a.Vault.Versions(context.Background(), a.DB.Reader)
	if err != nil || versions[2] != 2 || versions[1] != 0 {
		t.Errorf("data key versions %v (%v): both orders' keys must be wrapped by version 2, %s's by the running service", versions, err, second)
	}
	for _, id := range []string{first, second} {
		if o, err := a.Orders.Get(context.Background(), "", id); err != nil || o.Customer.Name != "Jane Doe" {
			t.Errorf("%s after the rotation: %v", id, err)
		}
	}
	if pr := husky(t, env, "keys", "prune"); len(pr["destroyed"].([]any)) != 0 {
		t.Errorf("prune destroyed %v before the backup retention ended", pr["destroyed"])
	}
}

func TestPlaintextDatabasesAreSealedAtStart(t *testing.T) {
	t.Parallel()
	storetest.SQLiteOnly(t, "databases from before the vault are SQLite files")
	e := newTestEnv(t)
	ctx := context.Background()
	sink := newHookSink(t)
	if _, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: sink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	// A service from before the vault stores plain text, without hashes.
	e.app.Orders.Vault, e.app.Orders.Hash = nil, nil
	body, vals := canaryOrder(t, "PLAIN-0003")
	id := e.submit(t, e.keyA, body)["id"].(string)
	if !bytes.Contains(rawFilesCheckpointed(t, e.app), []byte(vals[0])) {
		t.Fatal("the order was not stored in plain text: nothing is tested")
	}
	e.app.Close()
	// Down to the schema before the vault and up again: the order is as a
	// database from before would have it, after the vault's migration.
	migrateDownAndUp(t, e.app.Config.DB, 8)
	a, err := app.New(ctx, e.app.Config, e.app.Logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	raw := rawFilesCheckpointed(t, a)
	for _, v := range vals {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("%q is still in plain text after the start that seals", v)
		}
	}
	o, err := a.Orders.Get(ctx, "", id)
	if err != nil || !strings.Contains(strings.Join(vals, " "), o.Customer.Name) || o.Reference != "RefPLAIN0003" {
		t.Errorf("the sealed order reads back %+v, %v", o, err)
	}
	ds, _, _ := a.Deliveries.List(ctx, deliveryFilter(id))
	if len(ds) != 1 {
		t.Fatalf("deliveries %v", ds)
	}
	// The sealed reference is still unique: its keyed hash took the place
	// of the plain one.
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Errorf("the same reference again: %d, want 409", res.StatusCode)
	}
}

// migrateDownAndUp takes the database at path down to version and back up
// to the latest, through the migrations' own SQL.
func migrateDownAndUp(t *testing.T, path string, version int64) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dialect, files := db.Migrations()
	p, err := goose.NewProvider(dialect, db.Writer.DB, files, goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		t.Fatalf("down to %d: %v", version, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

func rawFilesCheckpointed(t *testing.T, a *app.App) []byte {
	t.Helper()
	if err := a.DB.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rawFiles(t, a.Config.DB)
}

// submit posts the sample order with reference ref to the running
// service with key, and returns its id; anything but 201 fails t.
func (s *server) submit(t *testing.T, key, ref string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/v1/orders", strings.NewReader(sampleOrder(t, withRef(ref))))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("submit: %v %v", res, err)
	}
	var o struct{ ID string }
	jsonDecode(res, &o)
	return o.ID
}

func jsonDecode(res *http.Response, v any) {
	defer res.Body.Close()
	b, _ := ioReadAll(res)
	jsonUnmarshal(b, v)
}

// mustConfig is the default configuration on the database env names.
func mustConfig(t *testing.T, env []string) app.Config {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		for _, name := range []string{"HUSKY_DB", "HUSKY_KEYRING", "HUSKY_AUDIT_KEY"} {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				vars[name] = v
			}
		}
	}
	cfg, err := configWith(vars)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAForeignKeyringFileIsRefusedWhileRunningAndAtStart(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	id := e.submit(t, e.keyA, sampleOrder(t))["id"].(string)
	if _, err := os.ReadFile(e.app.Config.Keyring); err != nil {
		t.Fatal(err)
	}
	// Another installation's keyring is put in the file's place.
	otherPath := filepath.Join(t.TempDir(), "other.keys")
	if _, err := keyring.Load(otherPath); err != nil {
		t.Fatal(err)
	}
	foreign, _ := os.ReadFile(otherPath)
	if err := os.WriteFile(e.app.Config.Keyring, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	e.app.Keys.Reload()
	if r := e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil); r.status != 200 {
		t.Errorf("after a foreign keyring appeared, an order answers %d", r.status)
	}
	if m := metricsBody(t, e); !strings.Contains(m, "husky_keyring_reload_refused_total 1") {
		t.Error("the refusal is not counted")
	}
	if !strings.Contains(e.logs.String(), "keyring file refused") {
		t.Errorf("the refusal is not logged:\n%s", e.logs.String())
	}
	if _, err := e.app.Keys.Rotate(ctx, "test", 0); !errors.Is(err, keyring.ErrForeign) {
		t.Errorf("rotating onto a foreign file: %v", err)
	}
	if got, _ := os.ReadFile(e.app.Config.Keyring); string(got) != string(foreign) {
		t.Error("the refused rotation changed the file")
	}
	// Starting with it is refused, with the count of keys it cannot open.
	other, err := keyring.Load(otherPath)
	if err != nil {
		t.Fatal(err)
	}
	e.app.Vault.Keyring = other
	if err := e.app.Keys.Check(ctx); err == nil || !strings.Contains(err.Error(), "cannot open 1 of the 1 data keys") {
		t.Errorf("start with a foreign keyring: %v", err)
	}

}

func TestARotationThatStoppedIsFinishedNotPiledUp(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	for i := range 3 {
		e.submit(t, e.keyA, sampleOrder(t, withRef(fmt.Sprint("PO-ROT-", i))))
	}
	// A rotation that added its version and stopped before re-wrapping.
	if _, err := e.app.Keyring.Rotate(e.app.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Keys.Rotate(ctx, "test", 0)
	if err != nil || !res.Resumed || res.Version != 2 || res.Rewrapped != 3 {
		t.Fatalf("the next rotation: %+v %v, want version 2 finished", res, err)
	}
	if vs := e.app.Keyring.Versions(); len(vs) != 2 {
		t.Errorf("versions %v: a stopped rotation piled up another", vs)
	}
	// Everything under the current version: the next one adds a version.
	if res, err := e.app.Keys.Rotate(ctx, "test", 0); err != nil || res.Resumed || res.Version != 3 {
		t.Errorf("a rotation after a finished one: %+v %v", res, err)
	}
}

func TestSealedValuesOpenOnlyWhereTheyBelong(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	id := e.sharedOrder(t, "PO-BIND")
	if r := e.callback(t, e.logistics, e.lSecret, "", time.Now(), "order.shipped", map[string]any{"order_id": id, "carrier": "CARRIER-TEXT-7c1",
		"tracking_number": "TRACK-7c1"}); r.status != 200 {
		t.Fatalf("shipped: %d %s", r.status, r.body)
	}
	if r := e.callback(t, e.maker, e.mSecret, "", time.Now(), "order.accepted", map[string]any{"order_id": id}); r.status != 200 {
		t.Fatalf("accepted: %d %s", r.status, r.body)
	}
	view := func() response { return e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil) }
	if r := view(); r.status != 200 || !strings.Contains(string(r.body), "CARRIER-TEXT-7c1") {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	// The carrier's sealed text is moved to the maker's row of the same
	// order: it does not open there, and is never shown as the maker's.
	var carrier []byte
	if err := e.app.DB.Reader.Get(&carrier, `SELECT carrier FROM order_recipients WHERE order_id = $1 AND partner_id = $2`, id, e.logistics.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB.Writer.Exec(`UPDATE order_recipients SET carrier = $1 WHERE order_id = $2 AND partner_id = $3`, carrier, id, e.maker.ID); err != nil {
		t.Fatal(err)
	}
	if r := view(); r.status != 500 || strings.Contains(string(r.body), "CARRIER-TEXT") {
		t.Errorf("a value moved to another recipient's row: %d %s", r.status, r.body)
	}
	if _, err := e.app.DB.Writer.Exec(`UPDATE order_recipients SET carrier = NULL WHERE order_id = $1 AND partner_id = $2`, id, e.maker.ID); err != nil {
		t.Fatal(err)
	}
	// A plain value put in a sealed column is refused, not served.
	if _, err := e.app.DB.Writer.Exec(`UPDATE orders SET customer_email = $1 WHERE id = $2`, []byte("planted@example.dk"), id); err != nil {
		t.Fatal(err)
	}
	if r := view(); r.status != 500 || strings.Contains(string(r.body), "planted@") {
		t.Errorf("a plain value in a sealed column: %d %s", r.status, r.body)
	}
	if m := metricsBody(t, e.testEnv); !regexp.MustCompile(`husky_sealed_values_refused_total [2-9]`).MatchString(m) {
		t.Errorf("refusals are not counted:\n%s", grepLines(m, "husky_sealed"))
	}
	if strings.Contains(e.logs.String(), "planted@") || strings.Contains(e.logs.String(), "CARRIER-TEXT") {
		t.Error("a refused value reached the log")
	}
}

func TestAnswersSealedBeforeBindingAreBoundAtStart(t *testing.T) {
	t.Parallel()
	e := newRecipientEnv(t)
	ctx := context.Background()
	id := e.sharedOrder(t, "PO-LEGACY")
	if r := e.callback(t, e.logistics, e.lSecret, "", time.Now(), "order.shipped", map[string]any{"order_id": id, "carrier": "OLD-CARRIER", "tracking_number": "T-OLD"}); r.status != 200 {
		t.Fatalf("shipped: %d", r.status)
	}
	// As an older version left it: bound to the order and column only.
	k, err := e.app.Vault.Get(ctx, e.app.DB.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB.Writer.Exec(`UPDATE order_recipients SET carrier = $1 WHERE order_id = $2 AND partner_id = $3`,
		k.SealString("OLD-CARRIER", "order_recipients.carrier"), id, e.logistics.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB.Writer.Exec(`UPDATE orders SET bound = 0 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil); r.status != 500 {
		t.Errorf("an unbound value opened as a bound one: %d", r.status)
	}
	if n, err := e.app.Orders.BindSealed(ctx); err != nil || n != 1 {
		t.Fatalf("bind: %d %v", n, err)
	}
	if r := e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil); r.status != 200 || !strings.Contains(string(r.body), "OLD-CARRIER") {
		t.Errorf("after binding: %d %s", r.status, r.body)
	}
	if n, _ := e.app.Orders.BindSealed(ctx); n != 0 {
		t.Errorf("a second start bound %d orders again", n)
	}
}
