package store_test

import (
	"testing"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// listQueries are the two ways of reading a list parameter (store.List).
var listQueries = store.PerEngine[string]{
	SQLite:     `SELECT COUNT(*) FROM listed WHERE id IN (SELECT value FROM json_each($1)) AND n > $2`,
	PostgreSQL: `SELECT COUNT(*) FROM listed WHERE id = ANY($1) AND n > $2`,
}

// TestStatementsReachTheServerAsWritten: numbered parameters, reused and
// in any clause, and a list, the same on both engines.
func TestStatementsReachTheServerAsWritten(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	if _, err := db.Writer.Exec(`CREATE TABLE listed (id TEXT PRIMARY KEY, n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		if _, err := db.Writer.Exec(`INSERT INTO listed (id, n) VALUES ($1, $2)`, id, i); err != nil {
			t.Fatal(err)
		}
	}
	var got string
	if err := db.Reader.Get(&got, `SELECT id FROM listed WHERE n = $1 OR (id = $2 AND n = $1)`, 2, "x"); err != nil || got != "c" {
		t.Errorf("reused parameter: %q, %v", got, err)
	}
	for _, tc := range []struct {
		ids  []string
		want int
	}{{[]string{"a", "b", "d", "z"}, 2}, {nil, 0}, {[]string{}, 0}, {[]string{"it's", `"q"`}, 0}} {
		var n int
		if err := db.Reader.Get(&n, *listQueries.For(db.Engine), db.List(tc.ids), 0); err != nil || n != tc.want {
			t.Errorf("list %q: %d rows, %v; want %d", tc.ids, n, err, tc.want)
		}
	}
}
