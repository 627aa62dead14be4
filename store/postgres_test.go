package store

import "testing"

// rewrite numbers placeholders outside literals, identifiers and comments,
// and drops SQLite's index hints, however they are cased or placed.
func TestRewriteForPostgreSQL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`SELECT ? , ?`, `SELECT $1 , $2`},
		{`SELECT '?' || ?`, `SELECT '?' || $1`},
		{`SELECT "odd?name" FROM t WHERE a = ?`, `SELECT "odd?name" FROM t WHERE a = $1`},
		{"SELECT a -- is it?\nFROM t WHERE b IN (?, ?)", "SELECT a -- is it?\nFROM t WHERE b IN ($1, $2)"},
		{`SELECT id FROM deliveries AS d INDEXED BY deliveries_due WHERE d.x = ?`, `SELECT id FROM deliveries AS d  WHERE d.x = $1`},
		{`SELECT id FROM t indexed by t_idx`, `SELECT id FROM t `},
		{`SELECT reindexed_by FROM t WHERE note = 'INDEXED BY x' AND y = ?`, `SELECT reindexed_by FROM t WHERE note = 'INDEXED BY x' AND y = $1`},
		{`SELECT 'it''s' , ?`, `SELECT 'it''s' , $1`},
	} {
		if got := rewrite(tt.in); got != tt.want {
			t.Errorf("rewrite(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactURLHidesEveryPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"userinfo", "postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"query_password", "postgres://u@h/db?password=secret&sslmode=require", "postgres://u@h/db?password=xxxxx&sslmode=require"},
		{"ssl_secrets", "postgresql://h/db?sslpassword=secret&sslkey=%2Fk.pem&application_name=husky",
			"postgresql://h/db?application_name=husky&sslkey=xxxxx&sslpassword=xxxxx"},
		{"unknown_options_hidden", "postgres://h/db?options=-c%20x%3Dsecret", "postgres://h/db?options=xxxxx"},
		{"a_sqlite_path_as_it_is", "/var/lib/husky/husky.db", "/var/lib/husky/husky.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
