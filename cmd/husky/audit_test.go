package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

func TestAuditTrailRecordsTheFlowWithoutPersonalData(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	sink := newHookSink(t)
	if _, _, err := e.app.Partners.Add(context.Background(), "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: sink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.app.Dispatcher.Run(ctx)

	personal := []string{"Zebulon Quackenbush", "zebulon.q@unusual-mail.example", "+4522334455", "Quackvej 77", "Quackby", "Quack Holdings ApS", "secret note 8812", "9999"}
	body := sampleOrder(t, func(m map[string]any) {
		m["customer"] = map[string]any{"name": personal[0], "email": personal[1], "phone": personal[2]}
		st := m["ship_to"].(map[string]any)
		st["line1"], st["city"], st["organization"], st["postal_code"] = personal[3], personal[4], personal[5], personal[7]
		m["notes"] = personal[6]
	})
	id := e.submit(t, e.keyA, body)["id"].(string)
	waitUntil(t, "order shared", func() bool {
		return e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil).json(t)["status"] == "shared"
	})
	if r := e.do(t, "POST", "/v1/orders/"+id+"/cancel", e.keyA, nil); r.status != 200 {
		t.Fatalf("cancel: %d", r.status)
	}
	waitUntil(t, "cancel delivery", func() bool { return sink.count() == 2 })
	waitUntil(t, "delivered recorded", func() bool {
		es, _ := e.app.Audit.ByOrder(context.Background(), id, 100)
		return len(es) >= 7
	})

	r := e.do(t, "GET", "/v1/audit/entries?order_id="+id, e.admin, nil)
	if r.status != 200 {
		t.Fatalf("audit entries: %d %s", r.status, r.body)
	}
	var resp struct {
		Checkpoint audit.Checkpoint    `json:"checkpoint"`
		Data       []audit.ProvenEntry `json:"data"`
	}
	if err := jsonUnmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range resp.Data {
		actions = append(actions, en.Action)
	}
	want := []string{"order.created", "disclosure.queued", "disclosure.delivered", "order.status_changed", "order.cancelled", "delivery.queued", "delivery.delivered"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Errorf("actions %v, want %v", actions, want)
	}
	// The disclosure's digest is keyed by the order's data key: what the
	// recipient holds, hashed, finds nothing in the trail.
	_, received := sink.at(0)
	plain := sha256.Sum256(received)
	key, err := e.app.Vault.Get(context.Background(), e.app.DB.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range resp.Data {
		if en.Action == "disclosure.queued" && (en.Details["fields"] != "phone,email,address" || en.Details["legal_basis"] != "GDPR Art. 6(1)(f)" ||
			en.Details["payload_hmac"] != key.Digest(received) || en.Details["payload_sha256"] != "") {
			t.Errorf("disclosure entry lacks fields, legal basis or keyed payload digest: %+v", en.Details)
		}
		if strings.Contains(en.Leaf, hex.EncodeToString(plain[:])) {
			t.Errorf("the audit entry %s holds the plain SHA-256 of what the recipient received", en.Action)
		}
	}
	tree, err := audit.ParseCheckpoint([]byte(resp.Checkpoint.Note), e.app.Audit.Key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range resp.Data {
		proof := make(tlog.RecordProof, len(en.Proof))
		for i, s := range en.Proof {
			proof[i], _ = tlog.ParseHash(s)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, en.Seq, tlog.RecordHash([]byte(en.Leaf))); err != nil {
			t.Errorf("entry %d does not prove against the checkpoint: %v", en.Seq, err)
		}
	}
	if r := e.do(t, "GET", "/v1/audit/checkpoint", e.keyA, nil); r.status != 403 {
		t.Errorf("reseller reads the audit checkpoint: %d", r.status)
	}

	// No personal value anywhere in the audit tables.
	for _, table := range []string{"audit_entries", "audit_pending", "audit_checkpoints"} {
		rows, err := e.app.DB.Reader.Queryx("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, _ := rows.SliceScan()
			for _, v := range vals {
				s := toString(v)
				for _, p := range personal[:7] {
					if strings.Contains(s, p) {
						t.Errorf("%s holds personal value %q", table, p)
					}
				}
			}
		}
		rows.Close()
	}
	rep, err := e.app.Audit.Verify(context.Background(), nil)
	if err != nil || !rep.OK {
		t.Errorf("verify: %+v %v", rep, err)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case sql.NullString:
		return x.String
	}
	return ""
}

func TestAuditVerifyCLIExitsNonZeroOnTampering(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "husky.db")
	env := dbEnv(t, db)
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "A")
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "B")
	cp := husky(t, env, "audit", "checkpoint")["checkpoint"].(map[string]any)
	if err := os.WriteFile(filepath.Join(dir, "kept.note"), []byte(cp["note"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "C")
	rep := husky(t, env, "audit", "verify", "--checkpoint", filepath.Join(dir, "kept.note"))
	if rep["ok"] != true || rep["outside_checkpoint_verified"] != true {
		t.Fatalf("verify: %v", rep)
	}
	// Someone with write access to the database changes an entry.
	driver, dsn, disable := "sqlite3", db, `DROP TRIGGER audit_entries_no_update`
	if storetest.Engine() == store.PostgreSQL {
		driver, dsn, disable = "pgx", strings.TrimPrefix(env[0], "HUSKY_DB="), `ALTER TABLE audit_entries DISABLE TRIGGER USER`
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{disable, `UPDATE audit_entries SET actor = 'operator:someone' WHERE seq = 1`} {
		if _, err := conn.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	cmd := exec.Command(binary(t), "audit", "verify")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("verify of a tampered log exited 0: %s", out)
	}
	if !strings.Contains(string(out), "first bad entry 1") {
		t.Errorf("verify does not name the bad entry: %s", out)
	}
}
