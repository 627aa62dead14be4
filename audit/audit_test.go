package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

func newLog(t testing.TB) *Log {
	t.Helper()
	db := storetest.Open(t)
	key, err := LoadKey(filepath.Join(t.TempDir(), "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &Log{DB: db, Key: key}
}

func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	err := l.DB.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			if err := l.Record(context.Background(), tx, "system:test", "order.created",
				map[string]string{"order_id": fmt.Sprintf("ord_%d", i%7)},
				map[string]string{"status": "received", "fields": "phone,email"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	integrate(t, l)
}

// integrate integrates everything pending, as the leader's loop would.
func integrate(t testing.TB, l *Log) {
	t.Helper()
	if _, err := l.IntegrateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// tamper runs SQL as someone with write access to the database would:
// first getting the append-only triggers out of the way.
func tamper(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	disable := []string{
		`DROP TRIGGER IF EXISTS audit_entries_no_update`, `DROP TRIGGER IF EXISTS audit_entries_no_delete`,
		`DROP TRIGGER IF EXISTS audit_hashes_no_update`, `DROP TRIGGER IF EXISTS audit_hashes_no_delete`,
	}
	if db.Engine == store.PostgreSQL {
		disable = []string{`ALTER TABLE audit_entries DISABLE TRIGGER USER`, `ALTER TABLE audit_hashes DISABLE TRIGGER USER`}
	}
	for _, s := range append(disable, stmts...) {
		if _, err := db.Writer.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func verify(t *testing.T, l *Log, outside []byte) Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), outside)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyPassesUntouchedLog(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	for range 3 {
		appendN(t, l, 13)
		if _, err := l.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	outside, _ := l.Latest(context.Background())
	appendN(t, l, 5)
	rep := verify(t, l, []byte(outside.Note))
	if !rep.OK || rep.Entries != 44 || rep.Checkpoints != 3 || !rep.OutsideVerified {
		t.Fatalf("report %+v", rep)
	}
}

func TestAppendOnlyTriggersRefuseChanges(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	appendN(t, l, 2)
	for _, s := range []string{`UPDATE audit_entries SET actor = 'x'`, `DELETE FROM audit_entries`, `DELETE FROM audit_hashes`} {
		if _, err := l.DB.Writer.Exec(s); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stmts     []string
		wantFirst int64
	}{
		{"catches_changed_detail", []string{`UPDATE audit_entries SET details = '{"fields":"phone","status":"received"}' WHERE seq = 9`}, 9},
		{"catches_changed_actor", []string{`UPDATE audit_entries SET actor = 'key:someone_else' WHERE seq = 3`}, 3},
		{"catches_deleted_entry", []string{`DELETE FROM audit_entries WHERE seq = 12`}, 12},
		{"catches_deleted_tail", []string{`DELETE FROM audit_entries WHERE seq >= 18`}, 18},
		{"catches_swapped_entries", []string{
			`UPDATE audit_entries SET seq = 100000 WHERE seq = 5`, `UPDATE audit_entries SET seq = 5 WHERE seq = 6`,
			`UPDATE audit_entries SET seq = 6 WHERE seq = 100000`}, 5},
		{"catches_inserted_entry", []string{
			`UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 7`, `UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1000`,
			`INSERT INTO audit_entries (seq, time, actor, action, details) VALUES (7, '2026-01-01T00:00:00.000000Z', 'system:test', 'order.created', '{}')`}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLog(t)
			appendN(t, l, 20)
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			tamper(t, l.DB, tt.stmts...)
			rep := verify(t, l, nil)
			if rep.OK {
				t.Fatal("verify passed a tampered log")
			}
			if rep.FirstBadEntry == nil || *rep.FirstBadEntry != tt.wantFirst {
				t.Errorf("first bad entry %v, want %d (%v)", rep.FirstBadEntry, tt.wantFirst, rep.Problems)
			}
		})
	}
}

func TestVerifyCatchesRewriteOfEntriesAndHashes(t *testing.T) {
	t.Parallel()
	// An attacker who rewrites an entry and recomputes every stored hash is
	// still caught by the signed checkpoint.
	l := newLog(t)
	appendN(t, l, 20)
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	tamper(t, l.DB, `UPDATE audit_entries SET action = 'order.viewed' WHERE seq = 4`, `DELETE FROM audit_hashes`)
	// Recompute the stored hashes from the tampered entries.
	rep := verify(t, l, nil)
	_ = rep
	var rows []entryRow
	if err := l.DB.Reader.Select(&rows, `SELECT `+entryColumns+` FROM audit_entries ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	mem := memHashes{}
	for i, r := range rows {
		e, _ := r.entry()
		hs, _ := tlog.StoredHashes(int64(i), e.LeafData(), &mem)
		mem = append(mem, hs...)
	}
	for i, h := range mem {
		if _, err := l.DB.Writer.Exec(`INSERT INTO audit_hashes (idx, hash) VALUES ($1, $2)`, i, h[:]); err != nil {
			t.Fatal(err)
		}
	}
	rep = verify(t, l, nil)
	if rep.OK {
		t.Fatal("verify passed a consistently rewritten log")
	}
	if !strings.Contains(strings.Join(rep.Problems, "\n"), "signed checkpoint of size 20") {
		t.Errorf("problems %v", rep.Problems)
	}
}

func TestVerifyCatchesForgedCheckpointAndTruncation(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	appendN(t, l, 10)
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(cp.Note, "\n10\n", "\n9\n", 1)
	if rep := verify(t, l, []byte(forged)); rep.OK || rep.OutsideVerified {
		t.Error("a forged outside checkpoint verified")
	}
	other := newLog(t)
	appendN(t, other, 12)
	foreign, _ := other.Checkpoint(context.Background())
	if rep := verify(t, l, []byte(foreign.Note)); rep.OK {
		t.Error("a checkpoint signed by another key verified")
	}
	tamper(t, l.DB, `DELETE FROM audit_entries WHERE seq >= 8`, `DELETE FROM audit_hashes`, `DELETE FROM audit_checkpoints`)
	if rep := verify(t, l, []byte(cp.Note)); rep.OK {
		t.Error("a truncated log verified against the outside checkpoint")
	}
}

func TestInclusionProofsCheckAgainstCheckpoint(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	appendN(t, l, 50)
	ctx := context.Background()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := ParseCheckpoint([]byte(cp.Note), l.Key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	es, err := l.ByOrder(ctx, "ord_3", 100)
	if err != nil || len(es) != 7 {
		t.Fatalf("entries: %d %v", len(es), err)
	}
	proven, err := l.Prove(ctx, cp, es)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range proven {
		proof := make(tlog.RecordProof, len(p.Proof))
		for i, s := range p.Proof {
			proof[i], _ = tlog.ParseHash(s)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, p.Seq, tlog.RecordHash([]byte(p.Leaf))); err != nil {
			t.Errorf("entry %d: %v", p.Seq, err)
		}
		if !strings.Contains(p.Leaf, `"order_id":"ord_3"`) {
			t.Errorf("leaf does not carry the entry: %s", p.Leaf)
		}
	}
}

func TestRecordRefusesFreeTextDetails(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	err := l.DB.Tx(context.Background(), func(tx *store.Tx) error {
		return l.Record(context.Background(), tx, "x", "order.created", nil, map[string]string{"customer_name": "Jane Doe"})
	})
	if err == nil {
		t.Error("a detail outside the allow-list was recorded")
	}
	err = l.DB.Tx(context.Background(), func(tx *store.Tx) error {
		return l.Record(context.Background(), tx, "x", "order.created", map[string]string{"email": "jane@example.dk"}, nil)
	})
	if err == nil {
		t.Error("an unknown subject was recorded")
	}
}

func TestKeyIsCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k")
	a, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadKey(path)
	if err != nil || a.Public != b.Public {
		t.Fatalf("key changed between loads: %v", err)
	}
}

// holdN records n entries in one transaction, or rolls the
// transaction back after recording them when fail is set.
func holdN(t *testing.T, l *Log, n int, fail bool) {
	t.Helper()
	errFail := fmt.Errorf("roll back")
	err := l.DB.Tx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			if err := l.Record(context.Background(), tx, "system:test", "order.created",
				map[string]string{"order_id": fmt.Sprintf("ord_%d", i%7)},
				map[string]string{"status": "received", "fields": "phone,email"}); err != nil {
				return err
			}
		}
		if fail {
			return errFail
		}
		return nil // the held entries are appended as tx commits
	})
	if err != nil && (!fail || err != errFail) {
		t.Fatal(err)
	}
	integrate(t, l)
}

func TestHeldEntriesBuildTheSameTree(t *testing.T) {
	t.Parallel()
	one, held := newLog(t), newLog(t)
	at := func() time.Time { return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) }
	one.Clock, held.Clock = at, at // leaves hash their time
	// Sizes that cross subtree boundaries inside and between batches.
	for _, n := range []int{1, 3, 5, 8, 17, 250} {
		appendN(t, one, n)
		holdN(t, held, n, false)
	}
	holdN(t, held, 9, true) // rolled back: appends nothing
	appendN(t, one, 2)
	appendN(t, held, 2)
	var a, b []string
	for _, x := range []struct {
		l   *Log
		out *[]string
	}{{one, &a}, {held, &b}} {
		if err := x.l.DB.Reader.Select(x.out, `SELECT hash FROM audit_hashes ORDER BY idx`); err != nil {
			t.Fatal(err)
		}
		if rep := verify(t, x.l, nil); !rep.OK {
			t.Fatalf("verify: %+v", rep)
		}
	}
	if len(a) == 0 || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("held appends stored %d hashes, one-by-one %d, or they differ", len(b), len(a))
	}
}

// TestVerifyIsRightWhileTheServiceWrites runs the verifier ten times during
// a sustained burst of appends and checkpoints: a sound log must verify
// every time (it once read entries and hashes in separate snapshots and
// reported TAMPERED under load).
func TestVerifyIsRightWhileTheServiceWrites(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	appendN(t, l, 500)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			appendN(t, l, 1+i%20)
			if i%10 == 0 {
				if _, err := l.Checkpoint(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	defer func() { stop(); <-done }()
	// At least ten runs, and on until the writer was seen to add entries
	// between them (a loaded machine may start the writer late), for at
	// most ten seconds.
	var sizes []int64
	for deadline := time.Now().Add(10 * time.Second); len(sizes) < 10 || (sizes[0] == sizes[len(sizes)-1] && time.Now().Before(deadline)); {
		rep := verify(t, l, nil)
		if !rep.OK {
			t.Fatalf("a sound log reported as tampered while being written: %+v", rep)
		}
		sizes = append(sizes, rep.Entries)
	}
	if sizes[0] == sizes[len(sizes)-1] {
		t.Errorf("the log did not grow during the runs (%v): nothing was tested", sizes)
	}
}

// TestHoldsOfTransactionsSideBySide: on PostgreSQL the intake's group
// commit and the dispatcher's result batch hold entries in transactions
// open at the same time; each keeps its own, and every entry lands. (A
// single slot for the held entries once let the second Hold drop the
// first transaction's entries, silently.)
func TestHoldsOfTransactionsSideBySide(t *testing.T) {
	if storetest.Engine() != store.PostgreSQL {
		t.Skip("PostgreSQL only: SQLite's single writer never has two transactions open")
	}
	l := newLog(t)
	ctx := context.Background()
	rec := func(tx *store.Tx, order string) error {
		return l.Record(ctx, tx, "system:test", "order.created", map[string]string{"order_id": order}, nil)
	}
	err := l.DB.Tx(ctx, func(tx1 *store.Tx) error {
		if err := rec(tx1, "ord_first"); err != nil {
			return err
		}
		other := make(chan error)
		go func() {
			other <- l.DB.Tx(ctx, func(tx2 *store.Tx) error {
				return rec(tx2, "ord_second")
			})
		}()
		if err := <-other; err != nil {
			return err
		}
		return rec(tx1, "ord_third")
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ord_first", "ord_second", "ord_third"} {
		es, err := l.ByOrder(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 {
			t.Errorf("%s: %d audit entries, want 1", id, len(es))
		}
	}
	integrate(t, l)
	if n, err := l.Size(ctx); err != nil || n != 3 {
		t.Errorf("trail size %d (%v), want 3", n, err)
	}
	rep, err := l.Verify(ctx, nil)
	if err != nil || !rep.OK {
		t.Errorf("verify: %+v %v", rep, err)
	}
}
