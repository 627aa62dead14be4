package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/milestone/husky/migrations"
)

// Migrations returns the engine's goose dialect and embedded migrations.
func (db *DB) Migrations() (goose.Dialect, fs.FS) {
	if db.Engine == PostgreSQL {
		return goose.DialectPostgres, migrations.PostgreSQL
	}
	return goose.DialectSQLite3, migrations.SQLite
}

// Migrate applies every embedded migration of the engine not yet applied
// and returns the schema version reached. On PostgreSQL, several processes
// starting at once apply them once: goose takes a session lock.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	dialect, files := db.Migrations()
	opts := []goose.ProviderOption{goose.WithLogger(goose.NopLogger())}
	conn := db.Writer.DB
	if db.Engine == PostgreSQL {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return 0, fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
		// goose writes its own table with a real boolean: a plain pgx
		// connection, not the service's, which binds bools as 0 and 1.
		if conn, err = sql.Open("pgx", db.dsn); err != nil {
			return 0, fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
	}
	p, err := goose.NewProvider(dialect, conn, files, opts...)
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

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.Reader.GetContext(ctx, &v, `SELECT MAX(version_id) FROM goose_db_version`); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
