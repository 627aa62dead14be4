package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// A deployment with file keys moves them into the database with the real
// binary: serve refuses a root key while the files hold keys the database
// does not, husky keys import moves them (once), and then instances need
// only HUSKY_DB and HUSKY_ROOT_KEY_FILE (two of them on PostgreSQL). A
// rotation by the CLI is used by every instance within seconds, and the
// root key's old version is destroyed by prune-root while they run.
func TestInstancesNeedOnlyTheDatabaseAndTheRootKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fileEnv := append(dbEnv(t, filepath.Join(dir, "husky.db")), "HUSKY_RATE_LIMIT=off")
	p := husky(t, fileEnv, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	key := husky(t, fileEnv, "keys", "create", "--role", "reseller", "--partner", p["id"].(string))["api_key"].(string)
	s := startServer(t, fileEnv)
	submit := func(s *server, ref string) string { return s.submit(t, key, ref) }
	readable := func(s *server, id string) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+"/v1/orders/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var o struct{ Customer struct{ Name string } }
		jsonDecode(res, &o)
		return res.StatusCode == 200 && o.Customer.Name == "Jane Doe"
	}
	before := submit(s, "PO-FILES")
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "husky.db.keys")); err != nil {
		t.Fatalf("the file keyring is not where the test looks: %v", err)
	}

	root := filepath.Join(dir, "root.key")
	if out := husky(t, nil, "keys", "init-root", root); out["version"] != float64(1) {
		t.Errorf("init-root: %v", out)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("root key file: %v %v", st, err)
	}
	withRoot := append(fileEnv, "HUSKY_ROOT_KEY_FILE="+root)
	code, _, stderr := runExit(t, append(withRoot, "HUSKY_ADDR="+freeAddr(t)), "serve")
	if code == 0 || !strings.Contains(stderr, "husky keys import") {
		t.Fatalf("serve with a root key before the import: exit %d: %s", code, stderr)
	}
	if out := husky(t, withRoot, "keys", "import"); out["keyring_imported"] != true || out["audit_key_imported"] != true {
		t.Errorf("import: %v", out)
	}
	if out := husky(t, withRoot, "keys", "import"); out["keyring_imported"] != false || out["audit_key_imported"] != false {
		t.Errorf("import again: %v", out)
	}

	// Now the database and the root key are all an instance needs.
	dbURL := strings.TrimPrefix(fileEnv[0], "HUSKY_DB=")
	instEnv := []string{"HUSKY_DB=" + dbURL, "HUSKY_ROOT_KEY_FILE=" + root, "HUSKY_RATE_LIMIT=off"}
	servers := []*server{startServer(t, instEnv)}
	if storetest.Engine() == store.PostgreSQL {
		servers = append(servers, startServer(t, instEnv))
		if code, _, stderr := runExit(t, []string{"HUSKY_DB=" + dbURL, "HUSKY_ADDR=" + freeAddr(t)}, "serve"); code == 0 ||
			!strings.Contains(stderr, "HUSKY_ROOT_KEY_FILE") {
			t.Errorf("serve on PostgreSQL with neither a root key nor key files: exit %d: %s", code, stderr)
		}
	}
	last := servers[len(servers)-1]
	if !readable(last, before) {
		t.Fatal("an order sealed before the import cannot be read after it")
	}
	if rot := husky(t, instEnv, "keys", "rotate"); rot["version"] != float64(2) {
		t.Errorf("rotate: %v", rot)
	}
	after := submit(last, "PO-ROTATED")
	if !readable(servers[0], after) {
		t.Error("an order taken by one instance after the rotation cannot be read by the other")
	}
	// The root key is rotated on the (here shared) file, and its old
	// version destroyed at once: the running instances read the file and
	// the resealed keys within seconds and go on.
	if out := husky(t, instEnv, "keys", "rotate-root"); out["version"] != float64(2) {
		t.Errorf("rotate-root: %v", out)
	}
	pr := husky(t, instEnv, "keys", "prune-root", "--backup-retention", "0s")
	if d, _ := pr["destroyed"].([]any); len(d) != 1 || d[0] != float64(1) {
		t.Errorf("prune-root: %v", pr)
	}
	time.Sleep(5 * time.Second) // two reloads
	for i, s := range servers {
		if !readable(s, before) || !readable(s, after) {
			t.Errorf("instance %d cannot read the orders after the root key's rotation", i)
		}
		submit(s, "PO-AFTER-ROOT-"+string(rune('A'+i)))
	}
	for _, s := range servers {
		s.stop(t)
		if strings.Contains(s.stderr.String(), `"level":"ERROR"`) {
			t.Errorf("an instance logged an error:\n%s", s.stderr.String())
		}
	}
	if v := husky(t, instEnv, "audit", "verify"); v["ok"] != true {
		t.Errorf("audit verify with the imported key: %v", v)
	}
}
