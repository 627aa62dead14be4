package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/store"
)

const (
	sqlSize        = `SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries`
	sqlInsertEntry = `INSERT INTO audit_entries (seq, time, actor, action, order_id, delivery_id, partner_id, purge_run_id, key_id,
		request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	sqlInsertHash       = `INSERT INTO audit_hashes (idx, hash) VALUES ($1, $2)`
	sqlInsertCheckpoint = `INSERT INTO audit_checkpoints (tree_size, root_hash, note, created_at) VALUES ($1, $2, $3, $4)`
	sqlLatestCheckpoint = `SELECT tree_size, root_hash, note, created_at FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1`
	entryColumns        = `seq, time, actor, action, order_id, delivery_id, partner_id, purge_run_id, key_id, request_id, details`
	sqlEntries          = `SELECT ` + entryColumns + ` FROM audit_entries ORDER BY seq`
	sqlEntriesOfOrder   = `SELECT ` + entryColumns + ` FROM audit_entries WHERE order_id = $1 ORDER BY seq LIMIT $2`
	sqlHashCount        = `SELECT COUNT(*) FROM audit_hashes`
	sqlAllHashes        = `SELECT idx, hash FROM audit_hashes ORDER BY idx`
	sqlCheckpointNotes  = `SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size`

	// Entries recorded and not yet integrated (integrate.go).
	fieldColumns      = `time, actor, action, order_id, delivery_id, partner_id, purge_run_id, key_id, request_id, details`
	sqlInsertPending  = `INSERT INTO audit_pending (` + fieldColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	sqlPending        = `SELECT id, ` + fieldColumns + ` FROM audit_pending ORDER BY id LIMIT $1`
	sqlPendingOfOrder = `SELECT id, ` + fieldColumns + ` FROM audit_pending WHERE order_id = $1 ORDER BY id LIMIT $2`
	sqlPendingStats   = `SELECT COUNT(*) AS n, COALESCE(MIN(time), '') AS oldest FROM audit_pending`
)

// The trail's statements are here, as functions that take the
// transaction or the read pool: the trail has no state of its own beyond
// its tables.

// trailSize returns how many entries the trail holds.
func trailSize(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, q, &n, sqlSize)
	return n, err
}

// eachEntry calls fn with every entry, in order, read as a stream.
func eachEntry(ctx context.Context, q sqlx.QueryerContext, fn func(entryRow) error) error {
	rows, err := q.QueryxContext(ctx, sqlEntries)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r entryRow
		if err := rows.StructScan(&r); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// hashCount counts the stored tree hashes; eachHash calls fn with every
// one, in index order, read as a stream.
func hashCount(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, q, &n, sqlHashCount)
	return n, err
}

func eachHash(ctx context.Context, q sqlx.QueryerContext, fn func(idx int64, h []byte) (more bool, err error)) error {
	rows, err := q.QueryxContext(ctx, sqlAllHashes)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			idx int64
			h   []byte
		)
		if err := rows.Scan(&idx, &h); err != nil {
			return err
		}
		if more, err := fn(idx, h); err != nil || !more {
			return err
		}
	}
	return rows.Err()
}

type checkpointNote struct {
	Size int64  `db:"tree_size"`
	Note string `db:"note"`
}

// checkpointNotes returns every stored checkpoint's size and signed note,
// smallest first.
func checkpointNotes(ctx context.Context, q sqlx.QueryerContext) ([]checkpointNote, error) {
	var cps []checkpointNote
	err := sqlx.SelectContext(ctx, q, &cps, sqlCheckpointNotes)
	return cps, err
}

// entriesOfOrder returns up to limit entries naming the order, oldest
// first.
func entriesOfOrder(ctx context.Context, q sqlx.QueryerContext, orderID string, limit int) ([]entryRow, error) {
	var rows []entryRow
	err := sqlx.SelectContext(ctx, q, &rows, sqlEntriesOfOrder, orderID, limit)
	return rows, err
}

// entryRow is an integrated entry's row, pendingRow one waiting for its
// place in the tree.
type entryRow struct {
	Seq int64 `db:"seq"`
	entryFields
}

type pendingRow struct {
	ID int64 `db:"id"`
	entryFields
}

type entryFields struct {
	Time       string         `db:"time"`
	Actor      string         `db:"actor"`
	Action     string         `db:"action"`
	OrderID    sql.NullString `db:"order_id"`
	DeliveryID sql.NullString `db:"delivery_id"`
	PartnerID  sql.NullString `db:"partner_id"`
	PurgeRunID sql.NullString `db:"purge_run_id"`
	KeyID      sql.NullString `db:"key_id"`
	RequestID  sql.NullString `db:"request_id"`
	Details    string         `db:"details"`
}

func (r entryRow) entry() (Entry, error) { return r.entryFields.entry(r.Seq) }

func (r entryFields) entry(seq int64) (Entry, error) {
	t, err := store.ParseTime(r.Time)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Seq: seq, Time: t, Actor: r.Actor, Action: r.Action, Subjects: map[string]string{}, Details: map[string]string{}}
	for k, v := range map[string]sql.NullString{"order_id": r.OrderID, "delivery_id": r.DeliveryID,
		"partner_id": r.PartnerID, "purge_run_id": r.PurgeRunID, "key_id": r.KeyID, "request_id": r.RequestID} {
		if v.Valid {
			e.Subjects[k] = v.String
		}
	}
	if err := json.Unmarshal([]byte(r.Details), &e.Details); err != nil {
		return Entry{}, fmt.Errorf("entry %d: details are not a JSON object of strings", seq)
	}
	return e, nil
}

func nullable(m map[string]string, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	return nil
}

// queries are the trail's statements that differ between the engines.
type queries struct {
	hashes        string // the stored hashes at the indexes $1 (a list)
	deletePending string // the pending entries $1 (a list), integrated
}

var statements = store.PerEngine[queries]{
	SQLite: queries{hashes: `SELECT idx, hash FROM audit_hashes WHERE idx IN (SELECT value FROM json_each($1))`,
		deletePending: `DELETE FROM audit_pending WHERE id IN (SELECT value FROM json_each($1))`},
	PostgreSQL: queries{hashes: `SELECT idx, hash FROM audit_hashes WHERE idx = ANY($1)`,
		deletePending: `DELETE FROM audit_pending WHERE id = ANY($1)`},
}

// entryArgs are an entry's column values after its seq or id.
func entryArgs(e *Entry) []any {
	details, _ := json.Marshal(e.Details)
	return []any{store.FormatTime(e.Time), e.Actor, e.Action,
		nullable(e.Subjects, "order_id"), nullable(e.Subjects, "delivery_id"), nullable(e.Subjects, "partner_id"),
		nullable(e.Subjects, "purge_run_id"), nullable(e.Subjects, "key_id"), nullable(e.Subjects, "request_id"), string(details)}
}

// insertPending writes entries waiting for their place in the tree, in
// the order given, many rows per statement.
func insertPending(ctx context.Context, tx *store.Tx, es []*Entry) error {
	args := make([]any, 0, 10*len(es))
	for _, e := range es {
		args = append(args, entryArgs(e)...)
	}
	return store.InsertRows(ctx, tx, sqlInsertPending, 10, args)
}

// pending returns up to limit entries waiting, oldest first.
func pending(ctx context.Context, q sqlx.QueryerContext, limit int) ([]pendingRow, error) {
	var rows []pendingRow
	err := sqlx.SelectContext(ctx, q, &rows, sqlPending, limit)
	return rows, err
}

// pendingOfOrder returns up to limit entries naming the order that wait,
// oldest first.
func pendingOfOrder(ctx context.Context, q sqlx.QueryerContext, orderID string, limit int) ([]pendingRow, error) {
	var rows []pendingRow
	err := sqlx.SelectContext(ctx, q, &rows, sqlPendingOfOrder, orderID, limit)
	return rows, err
}

// deletePending removes integrated entries from those waiting.
func deletePending(ctx context.Context, tx *store.Tx, ids []int64) error {
	_, err := tx.ExecContext(ctx, statements.For(tx.Engine()).deletePending, tx.List(ids))
	return err
}

// pendingStats counts the entries waiting and returns the oldest's time
// ("" when none waits).
func pendingStats(ctx context.Context, q sqlx.QueryerContext) (int64, string, error) {
	var r struct {
		N      int64  `db:"n"`
		Oldest string `db:"oldest"`
	}
	err := sqlx.GetContext(ctx, q, &r, sqlPendingStats)
	return r.N, r.Oldest, err
}

// hashReader reads stored hashes through q (the appending transaction, or
// the read pool).
type hashReader struct {
	ctx    context.Context
	q      sqlx.QueryerContext
	engine store.Engine
}

// ReadHashes implements tlog.HashReader; it fails when a hash is missing.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := r.q.QueryxContext(r.ctx, statements.For(r.engine).hashes, store.List(r.engine, indexes))
	if err != nil {
		return nil, fmt.Errorf("read audit hashes: %w", err)
	}
	defer rows.Close()
	got := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var (
			idx int64
			b   []byte
		)
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, err
		}
		var h tlog.Hash
		copy(h[:], b)
		got[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := got[idx]
		if !ok {
			return nil, fmt.Errorf("audit hash %d is missing", idx)
		}
		out[i] = h
	}
	return out, nil
}

// writeEntries gives the entries the sequence numbers from size on and
// writes them with their tree hashes. Only the integrator calls it, alone
// (Integrate), so the trail stays one gap-free sequence.
func writeEntries(ctx context.Context, tx *store.Tx, size int64, es []*Entry) error {
	if len(es) == 0 {
		return nil
	}
	// Hashes of earlier entries in es are read from memory, older ones
	// from the table.
	r := overlay{fresh: map[int64]tlog.Hash{}, stored: hashReader{ctx, tx, tx.Engine()}}
	args := make([]any, 0, 11*len(es))
	var hashArgs []any
	for i, e := range es {
		e.Seq = size + int64(i)
		hashes, err := tlog.StoredHashes(e.Seq, e.LeafData(), r)
		if err != nil {
			return fmt.Errorf("audit hashes: %w", err)
		}
		base := tlog.StoredHashIndex(0, e.Seq)
		for k, h := range hashes {
			r.fresh[base+int64(k)] = h
			hashArgs = append(hashArgs, base+int64(k), h[:])
		}
		args = append(append(args, e.Seq), entryArgs(e)...)
	}
	if err := store.InsertRows(ctx, tx, sqlInsertEntry, 11, args); err != nil {
		return fmt.Errorf("insert audit entries: %w", err)
	}
	if err := store.InsertRows(ctx, tx, sqlInsertHash, 2, hashArgs); err != nil {
		return fmt.Errorf("insert audit hashes: %w", err)
	}
	return nil
}

// overlay reads hashes written earlier in the same append from memory and
// the rest from the table.
type overlay struct {
	fresh  map[int64]tlog.Hash
	stored hashReader
}

func (o overlay) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, idx := range indexes {
		h, ok := o.fresh[idx]
		if !ok {
			missing = append(missing, idx)
			continue
		}
		out[i] = h
	}
	if len(missing) == 0 {
		return out, nil
	}
	old, err := o.stored.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for i, j := 0, 0; i < len(indexes); i++ {
		if _, ok := o.fresh[indexes[i]]; !ok {
			out[i] = old[j]
			j++
		}
	}
	return out, nil
}

// ByOrder returns up to limit entries naming an order, oldest first: those
// in the tree, then those still pending (Pending, Seq -1).
//
// Both are read in one snapshot, so an entry integrated meanwhile is seen
// once.
func (l *Log) ByOrder(ctx context.Context, orderID string, limit int) ([]Entry, error) {
	tx, err := l.DB.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	defer tx.Rollback()
	out, err := integratedOfOrder(ctx, tx, orderID, limit)
	if err != nil || len(out) == limit {
		return out, err
	}
	rows, err := pendingOfOrder(ctx, tx, orderID, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	for _, r := range rows {
		e, err := r.entry(-1)
		if err != nil {
			return nil, err
		}
		e.Pending = true
		out = append(out, e)
	}
	return out, nil
}

func integratedOfOrder(ctx context.Context, q sqlx.QueryerContext, orderID string, limit int) ([]Entry, error) {
	rows, err := entriesOfOrder(ctx, q, orderID, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		e, err := r.entry()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// insertCheckpoint stores a signed checkpoint of the tree of size n with
// root hash h, made at at.
func insertCheckpoint(ctx context.Context, tx *store.Tx, n int64, h tlog.Hash, signed string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, sqlInsertCheckpoint, n, h[:], signed, store.FormatTime(at)); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	return nil
}

// latestCheckpoint reads the newest stored checkpoint through q, or
// ErrNoCheckpoint.
func latestCheckpoint(ctx context.Context, q sqlx.QueryerContext) (Checkpoint, error) {
	var r struct {
		Size    int64      `db:"tree_size"`
		Root    []byte     `db:"root_hash"`
		Note    string     `db:"note"`
		Created store.Time `db:"created_at"`
	}
	if err := sqlx.GetContext(ctx, q, &r, sqlLatestCheckpoint); err != nil {
		if store.IsNoRows(err) {
			return Checkpoint{}, ErrNoCheckpoint
		}
		return Checkpoint{}, fmt.Errorf("latest checkpoint: %w", err)
	}
	var h tlog.Hash
	copy(h[:], r.Root)
	return Checkpoint{TreeSize: r.Size, RootHash: h.String(), Note: r.Note, CreatedAt: r.Created.Time}, nil
}
