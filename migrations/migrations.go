// Package migrations holds the numbered SQL migrations of each database
// engine, embedded into the binary and applied by pressly/goose: sqlite/
// for the embedded default, postgres/ for a PostgreSQL server. The two
// sets keep the same schema and invariants, each in its engine's SQL; they
// are numbered apart (PostgreSQL starts from the schema SQLite reached
// over its first ten). An applied migration is never edited; a change is
// a new file in each set.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var all embed.FS

// SQLite and PostgreSQL are each engine's migrations.
var (
	SQLite     = sub("sqlite")
	PostgreSQL = sub("postgres")
)

func sub(dir string) fs.FS {
	f, err := fs.Sub(all, dir)
	if err != nil {
		panic(err)
	}
	return f
}
