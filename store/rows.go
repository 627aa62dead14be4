package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// rowsPerInsert bounds one multi-row INSERT: 100 rows of up to 10 columns
// stays far under SQLite's limit on bound parameters.
const rowsPerInsert = 100

// InsertRows runs insert, an INSERT whose VALUES clause holds one row of
// cols parameters, $1 to $cols, for every cols arguments in args: many rows
// per statement rather than one statement per row. The rows after the
// first are added as more rows of parameters, numbered on. The rows are
// written Later: on PostgreSQL they go with the transaction's next
// statement, or its commit, and an error may come from there.
func InsertRows(ctx context.Context, tx *Tx, insert string, cols int, args []any) error {
	if cols < 1 || len(args)%cols != 0 {
		return fmt.Errorf("insert rows: %d arguments do not make rows of %d", len(args), cols)
	}
	for len(args) > 0 {
		n := min(len(args)/cols, rowsPerInsert)
		if err := tx.Later(ctx, insert+moreRows(cols, n), args[:n*cols]...); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

// moreRows is the VALUES rows 2 to n of a multi-row INSERT of cols columns.
func moreRows(cols, n int) string {
	var b strings.Builder
	for p := cols + 1; p <= n*cols; p++ {
		if (p-1)%cols == 0 {
			b.WriteString(", ($")
		} else {
			b.WriteString(", $")
		}
		b.WriteString(strconv.Itoa(p))
		if p%cols == 0 {
			b.WriteByte(')')
		}
	}
	return b.String()
}
