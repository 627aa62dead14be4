package store

import (
	"context"
	"fmt"
	"strings"
)

// rowsPerInsert bounds one multi-row INSERT: 100 rows of up to 10 columns
// stays far under SQLite's limit on bound parameters.
const rowsPerInsert = 100

// InsertRows runs insert, an INSERT whose VALUES clause holds one row of
// cols placeholders, for every cols arguments in args: many rows per
// statement rather than one statement per row.
func InsertRows(ctx context.Context, tx *Tx, insert string, cols int, args []any) error {
	if cols < 1 || len(args)%cols != 0 {
		return fmt.Errorf("insert rows: %d arguments do not make rows of %d", len(args), cols)
	}
	row := ", (?" + strings.Repeat(", ?", cols-1) + ")"
	for len(args) > 0 {
		n := min(len(args)/cols, rowsPerInsert)
		if _, err := tx.ExecContext(ctx, insert+strings.Repeat(row, n-1), args[:n*cols]...); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}
