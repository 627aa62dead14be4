package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nyaruka/phonenumbers"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/store"
)

// legacyLine is what the test needs of a line of the sample import file.
type legacyLine struct {
	Reference string `json:"reference"`
	Status    string `json:"status"`
	ClosedAt  string `json:"closed_at"`
	Customer  struct {
		Name, Email, Phone string
	} `json:"customer"`
}

func readLegacy(t *testing.T) []legacyLine {
	t.Helper()
	f, err := os.Open("../../testdata/import/legacy-orders.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []legacyLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l legacyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func e164(t *testing.T, s string) string {
	t.Helper()
	n, err := phonenumbers.Parse(s, "DK")
	if err != nil {
		t.Fatal(err)
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// rawFiles returns the bytes of the database and its WAL and shared-memory
// files, as a forensic look at the disk would see them. For a PostgreSQL
// database it reads the server's files of that database instead, after a
// checkpoint, dead row versions and all; not the server's write-ahead log,
// which every test database shares (what reaches it is what reaches the
// tables). A run that cannot read them (the server is another user's) is
// skipped rather than passed on nothing.
func rawFiles(t *testing.T, db string) []byte {
	t.Helper()
	if store.IsURL(db) {
		return rawServerFiles(t, db)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database files at %s: nothing would be scanned", db)
	}
	return all
}

func rawServerFiles(t *testing.T, dsn string) []byte {
	t.Helper()
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var dir string
	var oid int64
	if err := conn.QueryRow(`SELECT current_setting('data_directory'), (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&dir, &oid); err != nil {
		t.Skipf("PostgreSQL's data directory is not visible to this user: %v", err)
	}
	if _, err := conn.Exec(`CHECKPOINT`); err != nil {
		t.Skipf("cannot checkpoint PostgreSQL: %v", err)
	}
	var all []byte
	for _, sub := range []string{filepath.Join("base", fmt.Sprint(oid))} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Skipf("PostgreSQL's files are not readable here: %v", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
				if err != nil {
					t.Skipf("PostgreSQL's files are not readable here: %v", err)
				}
				all = append(all, b...)
			}
		}
	}
	return all
}

// dsnOf returns the HUSKY_DB of an environment.
func dsnOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HUSKY_DB="); ok {
			return v
		}
	}
	return ""
}

func TestEndToEndRetentionImportReportPurge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "husky.db")
	env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true", "HUSKY_PURGE_DAILY=off")
	logistics, maker := newHookSink(t), newHookSink(t)
	husky(t, env, "partners", "add", "--id", "ptn_legacy_reseller", "--kind", "reseller", "--name", "Legacy Reseller")
	lp := husky(t, env, "partners", "add", "--id", "ptn_legacy_logistics", "--kind", "logistics", "--name", "Carrier", "--endpoint", logistics.srv.URL)
	husky(t, env, "partners", "add", "--id", "ptn_legacy_maker", "--kind", "manufacturer", "--name", "Maker", "--endpoint", maker.srv.URL)
	reseller := husky(t, env, "keys", "create", "--role", "reseller", "--partner", "ptn_legacy_reseller")["api_key"].(string)
	finance := husky(t, env, "keys", "create", "--role", "finance")["api_key"].(string)

	imp := husky(t, env, "orders", "import", "../../testdata/import/legacy-orders.jsonl")
	if imp["imported"].(float64) != 23 {
		t.Fatalf("import: %v", imp)
	}
	ids := imp["order_ids"].([]any)
	lines := readLegacy(t)

	// The report is a dry run that follows the fiscal calendar.
	count := func(asOf string) (purgeable, stale int) {
		rep := husky(t, env, "purge", "report", "--as-of", asOf)
		return len(rep["purgeable"].([]any)), len(rep["stale"].([]any))
	}
	for _, tt := range []struct {
		asOf             string
		purgeable, stale int
	}{
		{"2024-12-31", 0, 0},
		{"2025-01-01", 3, 1},  // fiscal year 2019; 31 Dec 23:30 UTC closes in 2020
		{"2026-01-01", 8, 1},  // and fiscal year 2020
		{"2029-12-31", 18, 1}, // fiscal years 2019 to 2023
		{"2030-01-01", 20, 2}, // and 2024; the open 2024 order is stale too
	} {
		if p, s := count(tt.asOf); p != tt.purgeable || s != tt.stale {
			t.Errorf("as of %s: %d purgeable, %d stale; want %d, %d", tt.asOf, p, s, tt.purgeable, tt.stale)
		}
	}
	// Nothing of the calendar is stored: a fiscal year starting in July
	// moves the purge dates at once, and the default moves them back.
	july := append(append([]string(nil), env...), "HUSKY_FISCAL_YEAR_START=7")
	cph, _ := time.LoadLocation("Europe/Copenhagen")
	cal := retention.Calendar{StartMonth: time.July, Location: cph, Years: 5}
	for _, asOf := range []string{"2025-06-30", "2025-07-01", "2026-07-01"} {
		d, _ := cal.ParseDate(asOf)
		want := 0
		for _, l := range lines {
			if closed, err := time.Parse(time.RFC3339, l.ClosedAt); err == nil {
				if _, after := cal.PurgeAfter(closed); after.Before(cal.EndOfDay(d)) {
					want++
				}
			}
		}
		rep := husky(t, july, "purge", "report", "--as-of", asOf)
		if got := len(rep["purgeable"].([]any)); got != want {
			t.Errorf("July calendar as of %s: %d purgeable, want %d", asOf, got, want)
		}
	}
	if p, _ := count("2026-01-01"); p != 8 {
		t.Errorf("back on the January calendar: %d purgeable, want 8", p)
	}
	csv := runCLI(t, env, "purge", "report", "--as-of", "2026-01-01", "--format", "csv")
	if !strings.HasPrefix(csv, "category,order_id,") || strings.Count(csv, "\npurgeable,") != 8 {
		t.Errorf("csv report:\n%s", csv)
	}
	for _, l := range lines {
		if strings.Contains(csv, l.Customer.Email) || strings.Contains(csv, l.Customer.Name) {
			t.Fatal("the report holds personal data")
		}
	}

	// A held order is never purged.
	held := ids[0].(string)
	husky(t, env, "orders", "hold", held, "--reason", "tax audit 2019")

	s := startServer(t, env)
	api := func(method, path, key string) (int, []byte) {
		req, _ := http.NewRequest(method, s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.Bytes()
	}
	st, body := api("POST", "/v1/purge/runs", finance)
	if st != 202 {
		t.Fatalf("start purge: %d %s", st, body)
	}
	var run struct {
		ID         string   `json:"id"`
		Status     string   `json:"status"`
		Digest     string   `json:"digest"`
		OrderIDs   []string `json:"order_ids"`
		Recipients []struct {
			PartnerID    string `json:"partner_id"`
			Notified     int    `json:"notified"`
			Delivered    int    `json:"delivered"`
			Acknowledged int    `json:"acknowledged"`
		} `json:"recipients"`
	}
	json.Unmarshal(body, &run)
	waitUntil(t, "purge completed", func() bool {
		_, b := api("GET", "/v1/purge/runs/"+run.ID, finance)
		json.Unmarshal(b, &run)
		return run.Status == "completed"
	})
	// As of today (2026-11-29): fiscal years 2019 and 2020, less the held order.
	if len(run.OrderIDs) != 7 || len(run.Digest) != 64 {
		t.Fatalf("run: %+v", run)
	}
	for _, id := range run.OrderIDs {
		if id == held {
			t.Fatal("a held order was purged")
		}
	}

	// Every copy is gone: no erased value in the database files, WAL included.
	raw := rawFiles(t, dsnOf(env))
	purged := map[string]bool{}
	for _, id := range run.OrderIDs {
		purged[id] = true
	}
	for i, l := range lines {
		id := ids[i].(string)
		// Sealed at rest, erased or not: no order's value is in the files.
		if bytes.Contains(raw, []byte(l.Customer.Email)) || bytes.Contains(raw, []byte(e164(t, l.Customer.Phone))) || bytes.Contains(raw, []byte(l.Customer.Name)) {
			t.Errorf("line %d (%s): personal data is in the database files in plain text", i+1, id)
		}
		if purged[id] {
			continue
		}
		if st, body := api("GET", "/v1/orders/"+id, reseller); st != 200 || !bytes.Contains(body, []byte(l.Customer.Email)) {
			t.Errorf("line %d (%s): an order that is not purgeable lost its data: %d", i+1, id, st)
		}
	}
	st, body = api("GET", "/v1/orders/"+held, reseller)
	if st != 200 || !strings.Contains(string(body), lines[0].Customer.Email) {
		t.Errorf("held order: %d %s", st, body)
	}
	st, body = api("GET", "/v1/orders/"+run.OrderIDs[0], reseller)
	if st != 200 || !strings.Contains(string(body), `"erased_at"`) || !strings.Contains(string(body), `"items":[{`) {
		t.Errorf("purged order keeps ids, items and dates: %d %s", st, body)
	}

	// The recipients were told (order.erased, ids only) and can confirm.
	waitUntil(t, "erasure notices", func() bool { return logistics.count() >= 7 && maker.count() >= 5 })
	for i := range logistics.count() {
		_, b := logistics.at(i)
		if !strings.Contains(string(b), `"type":"order.erased"`) || strings.Contains(string(b), "@") {
			t.Errorf("notice: %s", b)
		}
	}
	lsecret := lp["webhook_secret"].(string)
	cb, _ := json.Marshal(map[string]any{"type": "order.erasure_confirmed", "data": map[string]any{"order_id": run.OrderIDs[0]}})
	req, _ := http.NewRequest("POST", s.url+"/v1/callbacks/ptn_legacy_logistics", bytes.NewReader(cb))
	req.Header.Set("Content-Type", "application/json")
	partners.SetHeaders(req.Header, []string{lsecret}, "ack-1", time.Now(), cb)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("erasure confirmation: %v %v", res.StatusCode, err)
	}
	_, body = api("GET", "/v1/purge/runs/"+run.ID, finance)
	json.Unmarshal(body, &run)
	byPartner := map[string]int{}
	for _, r := range run.Recipients {
		byPartner[r.PartnerID] = r.Notified
		if r.PartnerID == "ptn_legacy_logistics" && r.Acknowledged != 1 {
			t.Errorf("acknowledged %d, want 1", r.Acknowledged)
		}
	}
	if byPartner["ptn_legacy_logistics"] != 7 || byPartner["ptn_legacy_maker"] != 5 {
		t.Errorf("notices per recipient %v", byPartner)
	}
	st, csvRun := api("GET", "/v1/purge/runs/"+run.ID+"?format=csv", finance)
	if st != 200 || strings.Count(string(csvRun), run.Digest) != 7 {
		t.Errorf("run csv: %d %s", st, csvRun)
	}
	// A second run finds nothing more to do.
	st, body = api("POST", "/v1/purge/runs", finance)
	if st != 202 {
		t.Fatalf("second purge: %d %s", st, body)
	}
	s.stop(t)

	rep := husky(t, env, "audit", "verify")
	if rep["ok"] != true {
		t.Errorf("audit verify after purge: %v", rep)
	}
	raw = rawFiles(t, dsnOf(env))
	for i, l := range lines {
		if purged[ids[i].(string)] && bytes.Contains(raw, []byte(l.Customer.Email)) {
			t.Errorf("line %d: erased email found after shutdown", i+1)
		}
	}
}

// runCLI runs the binary and returns its standard output.
func runCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := execCommand(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("husky %v: %v", args, err)
	}
	return string(out)
}
