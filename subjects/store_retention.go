package subjects

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The statements that delete the records of completed requests once
// their retention ends (retention.go).
const (
	sqlCompletedBefore  = `SELECT id FROM subject_requests WHERE status = 'completed' AND completed_at < $1 ORDER BY completed_at, id LIMIT $2`
	sqlErasuresOf       = `SELECT COUNT(*) FROM subject_erasures WHERE request_id = $1`
	sqlDeleteCandidates = `DELETE FROM subject_candidates WHERE request_id IN (SELECT id FROM subject_requests WHERE id = $1 AND status = 'completed')`
	sqlDeleteSteps      = `DELETE FROM subject_steps WHERE request_id IN (SELECT id FROM subject_requests WHERE id = $1 AND status = 'completed')`
	sqlDeleteRequest    = `DELETE FROM subject_requests WHERE id = $1 AND status = 'completed'`
)

// completedBefore returns up to limit completed requests completed before
// t, oldest first, through r.
func (q requestRows) completedBefore(ctx context.Context, r sqlx.QueryerContext, t time.Time, limit int) ([]string, error) {
	var ids []string
	if err := sqlx.SelectContext(ctx, r, &ids, sqlCompletedBefore, store.FormatTime(t), limit); err != nil {
		return nil, fmt.Errorf("completed requests: %w", err)
	}
	return ids, nil
}

// erasuresOf counts the erasures the request still has scheduled.
func (q requestRows) erasuresOf(ctx context.Context, r sqlx.QueryerContext, requestID string) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, r, &n, sqlErasuresOf, requestID); err != nil {
		return 0, fmt.Errorf("scheduled erasures: %w", err)
	}
	return n, nil
}

// deleteRequest deletes a completed request with its candidates and steps
// (its identifier hashes go with its row), and reports whether it was
// there to delete; an open request is left whole.
func (q requestRows) deleteRequest(ctx context.Context, tx *store.Tx, id string) (bool, error) {
	for _, stmt := range []string{sqlDeleteCandidates, sqlDeleteSteps} {
		if _, err := tx.ExecContext(ctx, stmt, id); err != nil {
			return false, fmt.Errorf("delete request records: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, sqlDeleteRequest, id)
	if err != nil {
		return false, fmt.Errorf("delete request: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
