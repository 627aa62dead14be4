package main

import (
	"net/url"
	"path/filepath"
	"slices"
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
	const password, inQuery, sslPassword = "pw-canary-7f3a9", "pw-query-canary-2b1c", "pw-ssl-canary-9d0e"
	u, err := url.Parse(storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	// libpq and pgx take a password in the query string too.
	q := u.Query()
	q.Set("password", inQuery)
	q.Set("sslpassword", sslPassword)
	u.RawQuery = q.Encode()
	dir := t.TempDir()
	env := []string{"HUSKY_DB=" + u.String(), "HUSKY_KEYRING=" + filepath.Join(dir, "keys"),
		"HUSKY_AUDIT_KEY=" + filepath.Join(dir, "audit-key"), "HUSKY_LOG_FORMAT=json"}
	secrets := []string{password, inQuery, sslPassword}
	shows := func(out string) bool {
		return slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(out, s) })
	}
	_, migrated, migrateErr := runExit(t, env, "migrate")
	_, migratedJSON, _ := runExit(t, env, "migrate", "--json")
	if shows(migrated + migrateErr + migratedJSON) {
		t.Errorf("migrate shows a database password:\n%s%s%s", migrated, migrateErr, migratedJSON)
	}
	s := startServer(t, env)
	s.stop(t)
	if log := s.stderr.String(); shows(log) {
		t.Errorf("the service's log shows a database password:\n%s", log)
	} else if !strings.Contains(log, u.Host+u.Path) || !strings.Contains(log, "sslmode=disable") {
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
	if shows(stdout + stderr) {
		t.Errorf("the error shows a database password:\n%s%s", stdout, stderr)
	}
}
