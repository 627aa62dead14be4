package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// TestPostgresPasswordNeverShown: the password in a PostgreSQL HUSKY_DB
// reaches neither the service's log nor any command's output or error,
// whether the server takes the connection (the local server trusts
// loopback and ignores the password) or refuses it.
func TestPostgresPasswordNeverShown(t *testing.T) {
	t.Parallel()
	if storetest.Engine() != store.PostgreSQL {
		t.Skip("PostgreSQL only: a SQLite file has no password")
	}
	const password = "pw-canary-7f3a9"
	u, err := url.Parse(storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	dir := t.TempDir()
	env := []string{"HUSKY_DB=" + u.String(), "HUSKY_KEYRING=" + filepath.Join(dir, "keys"),
		"HUSKY_AUDIT_KEY=" + filepath.Join(dir, "audit-key"), "HUSKY_LOG_FORMAT=json"}
	husky(t, env, "migrate")
	s := startServer(t, env)
	s.stop(t)
	if log := s.stderr.String(); strings.Contains(log, password) {
		t.Errorf("the service's log shows the database password:\n%s", log)
	} else if !strings.Contains(log, u.Redacted()) {
		t.Errorf("the log does not name the database (redacted) at all:\n%s", log)
	}
	// A database that does not exist: the error names the URL, without
	// the password.
	missing := *u
	missing.Path = "/husky_no_such_database"
	code, stdout, stderr := runExit(t, append(env, "HUSKY_DB="+missing.String()), "migrate")
	if code == 0 {
		t.Fatal("migrate on a missing database succeeded")
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("the error shows the database password:\n%s%s", stdout, stderr)
	}
}
