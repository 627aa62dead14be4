// Package migrations holds the numbered SQL migrations, embedded into the
// binary and applied by pressly/goose. An applied migration is never edited;
// a change is a new file.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
