package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// commands lists every command and its subcommands, as the usage text does.
var commands = map[string][]string{
	"serve": nil, "migrate": nil,
	"partners":   {"add", "list", "rotate-secret", "enable", "disable"},
	"keys":       {"create", "list", "revoke", "rotate", "prune", "rotate-lookup", "init-root", "rotate-root", "prune-root", "import"},
	"backup":     nil,
	"deliveries": {"list", "replay"},
	"orders":     {"import", "hold", "release", "close", "conflicts"},
	"purge":      {"report", "run", "show"},
	"audit":      {"checkpoint", "verify"},
	"subjects":   {"request", "list", "show", "export", "rectify", "erase", "restrict", "lift", "complete"},
	"privacy":    {"record"},
	"breaches":   {"open", "list", "show", "notified"},
}

func TestEveryCommandAnswersHelpAndWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := dbEnv(t, filepath.Join(dir, "husky.db"))
	help := func(args ...string) {
		t.Helper()
		code, stdout, stderr := runExit(t, env, args...)
		if code != 0 || !strings.Contains(stdout, "Usage") {
			t.Errorf("husky %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	help("-h")
	for cmd, subs := range commands {
		help(cmd, "-h")
		for _, s := range subs {
			help(cmd, s, "-h")
			help(cmd, s, "--help")
		}
	}
	// Commands that fail on their arguments.
	for _, args := range [][]string{
		{"partners"}, {"partners", "frobnicate"}, {"partners", "add", "--kind", "pirate", "--name", "X"},
		{"partners", "add", "--kind", "logistics", "--name", "X", "--endpoint", "https://example.com/h", "--fields", "phone,name"},
		{"partners", "add", "--kind", "logistics", "--name", "X", "--endpoint", "https://127.1/h"},
		{"partners", "add", "--kind", "reseller", "--name", ""},
		{"partners", "enable"}, {"partners", "list", "extra"}, {"partners", "add", "--bogus-flag"},
		{"keys", "create", "--role", "reseller"}, {"keys", "create", "--role", "reseller", "--partner", "ptn_nope"},
		{"keys", "create", "--role", "wizard"}, {"keys", "revoke"}, {"keys", "revoke", "key_nope"},
		{"deliveries", "list", "--status", "lost"}, {"deliveries", "replay"}, {"deliveries", "replay", "--since", "yesterday"},
		{"orders", "import"}, {"orders", "import", filepath.Join(dir, "missing.jsonl")}, {"orders", "hold", "ord_x"},
		{"orders", "close", "ord_x", "--as", "lost", "--reason", "r"}, {"orders", "close", "ord_x", "--as", "delivered"},
		{"purge", "report", "--format", "xml"}, {"purge", "report", "--as-of", "29/11/2026"}, {"purge", "show"},
		{"audit", "verify", "--checkpoint", filepath.Join(dir, "missing")}, {"audit", "frobnicate"},
		{"serve", "--fiscal-year-start", "13"}, {"serve", "extra"}, {"migrate", "extra"}, {"nonsense"},
		{"backup"}, {"backup", filepath.Join(dir, "copy.db")},
		{"subjects", "request", "--type", "gossip", "--email", "a@b.dk"}, {"subjects", "request", "--type", "access"},
		{"subjects", "rectify", "dsr_x"}, {"subjects", "export", "dsr_x", "--format", "pdf"}, {"privacy", "record", "--format", "xml"},
		{"partners", "add", "--kind", "logistics", "--name", "X", "--endpoint", "https://hooks.example.com/h", "--country", "CN"},
		{"breaches", "show"}, {"breaches", "show", "brc_x", "--format", "pdf"}, {"breaches", "open", "extra"}, {"breaches", "notified"},
	} {
		if code, _, _ := runExit(t, env, args...); code == 0 {
			t.Errorf("husky %s succeeded", strings.Join(args, " "))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// A PostgreSQL database always exists, so a command that got as
		// far as looking an id up there opened it, and with it the keyring
		// and audit key files; it must still have written no row.
		if storetest.Engine() == store.PostgreSQL && strings.HasPrefix(e.Name(), "husky.db.") {
			continue
		}
		t.Errorf("a command that failed on its arguments left %s behind", e.Name())
	}
	if storetest.Engine() == store.PostgreSQL {
		db, err := store.Open(context.Background(), strings.TrimPrefix(env[0], "HUSKY_DB="))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, table := range []string{"partners", "api_keys", "orders", "audit_entries", "audit_pending"} {
			var n int
			if err := db.Reader.Get(&n, "SELECT COUNT(*) FROM "+table); err == nil && n > 0 {
				t.Errorf("a command that failed on its arguments wrote %d rows into %s", n, table)
			}
		}
	}
}

func TestRejectedImportSaysNothingWasImported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := dbEnv(t, filepath.Join(dir, "husky.db"))
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")
	file := filepath.Join(dir, "bad.jsonl")
	writeFile(t, file, `{"reference":"X"}`+"\n")
	code, stdout, stderr := runExit(t, env, "orders", "import", file)
	if code == 0 || strings.Contains(stdout, "skipped 0") || !strings.Contains(stderr, "nothing imported") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// husky --version names the build and exits 0, as every CLI of its kind
// does; it needs no database.
func TestVersionNamesTheBuild(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--version", "version"} {
		code, stdout, stderr := runExit(t, []string{"HUSKY_DB=" + filepath.Join(t.TempDir(), "none.db")}, arg)
		if code != 0 || !strings.HasPrefix(stdout, "husky ") || !strings.Contains(stdout, runtime.Version()) || stderr != "" {
			t.Errorf("husky %s: exit %d, %q %q", arg, code, stdout, stderr)
		}
	}
}
