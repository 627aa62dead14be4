package main

import (
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/milestone/husky/cli"
)

// TestCLICommandsAnswerInJSON runs every operator command against one
// database and checks the shape of what it prints.
func TestCLICommandsAnswerInJSON(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "husky.db")
	env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true")
	r := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	l := husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", "http://127.0.0.1:9/hook")["partner"].(map[string]any)
	if n := len(husky(t, env, "partners", "list")["data"].([]any)); n != 2 {
		t.Errorf("partners list: %d", n)
	}
	if got := husky(t, env, "partners", "disable", l["id"].(string)); got["enabled"] != false {
		t.Errorf("disable: %v", got)
	}
	if got := husky(t, env, "partners", "enable", l["id"].(string)); got["enabled"] != true {
		t.Errorf("enable: %v", got)
	}
	k := husky(t, env, "keys", "create", "--role", "reseller", "--partner", r["id"].(string))["key"].(map[string]any)
	if n := len(husky(t, env, "keys", "list")["data"].([]any)); n != 1 {
		t.Errorf("keys list: %d", n)
	}
	if got := husky(t, env, "keys", "revoke", k["id"].(string)); got["revoked"] != true {
		t.Errorf("revoke: %v", got)
	}
	if got := husky(t, env, "deliveries", "list", "--status", "dead"); len(got["data"].([]any)) != 0 {
		t.Errorf("deliveries list: %v", got)
	}
	if got := husky(t, env, "deliveries", "replay", "--since", "2020-01-01T00:00:00Z"); len(got["replayed"].([]any)) != 0 {
		t.Errorf("replay --since: %v", got)
	}
	if got := husky(t, env, "orders", "conflicts"); len(got["data"].([]any)) != 0 {
		t.Errorf("conflicts: %v", got)
	}
	if got := husky(t, env, "purge", "report", "--as-of", "2030-01-01"); got["as_of"] != "2030-01-01" {
		t.Errorf("purge report: %v", got)
	}
	run := husky(t, env, "purge", "run")
	if run["status"] != "completed" {
		t.Errorf("purge run: %v", run)
	}
	if got := husky(t, env, "purge", "show", run["id"].(string)); got["id"] != run["id"] {
		t.Errorf("purge show: %v", got)
	}
	if csv := runCLI(t, env, "purge", "show", run["id"].(string), "--format", "csv"); !strings.HasPrefix(csv, "run_id,as_of,status,digest,order_id") {
		t.Errorf("purge show csv: %q", csv)
	}
	cp := husky(t, env, "audit", "checkpoint")
	if !strings.HasPrefix(cp["checkpoint"].(map[string]any)["note"].(string), "husky.milestone.dev/audit\n") || cp["verifier_key"] == "" {
		t.Errorf("checkpoint: %v", cp)
	}
	if got := husky(t, env, "audit", "verify"); got["ok"] != true {
		t.Errorf("verify: %v", got)
	}
	if got := husky(t, env, "migrate"); got["version"] == nil {
		t.Errorf("migrate: %v", got)
	}
}

func TestTuneGCKeepsWhatTheOperatorSet(t *testing.T) {
	// GOGC set by the operator, GOMEMLIMIT not.
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	cli.TuneGC()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GC percent %d, want the operator's 150", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 256<<20 {
		t.Errorf("memory limit %d, want the 256 MiB default", got)
	}
}
