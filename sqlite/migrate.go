package sqlite

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/milestone/husky/migrations"
)

// Migrate applies every embedded migration not yet applied and returns the
// schema version reached.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db.Writer.DB, migrations.FS,
		goose.WithLogger(goose.NopLogger()))
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	return v, nil
}
