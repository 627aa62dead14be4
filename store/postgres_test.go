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
