package subjects

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The subjects package's statements (subject_requests, subject_steps,
// subject_candidates, subject_erasures), as methods of requestRows. Both
// engines read them alike. Reads take r, a transaction or the read pool;
// writes take the transaction.
const (
	sqlInsertRequest = `INSERT INTO subject_requests (id, type, status, email_hash, phone_hash, received_at, due_at, actor, lookup_version)
		VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8)`
	requestColumns = `id, type, status, email_hash, phone_hash, received_at, due_at, completed_at, actor, extended_at, extension_reason,
		lookup_version`
	sqlGetRequest = `SELECT ` + requestColumns + ` FROM subject_requests WHERE id = $1`
	// Oldest due first: the queue a DPO works through.
	sqlListRequests = `SELECT ` + requestColumns + ` FROM subject_requests WHERE ($1 = '' OR status = $1) ORDER BY due_at, id LIMIT $2`
	sqlComplete     = `UPDATE subject_requests SET status = 'completed', completed_at = $1 WHERE id = $2 AND status = 'open'`
	sqlExtend       = `UPDATE subject_requests SET due_at = $1, extended_at = $2, extension_reason = $3 WHERE id = $4 AND extended_at IS NULL`
	sqlNextStep     = `SELECT COALESCE(MAX(seq), 0) + 1 FROM subject_steps WHERE request_id = $1`
	sqlInsertStep   = `INSERT INTO subject_steps (request_id, seq, time, actor, action, details) VALUES ($1, $2, $3, $4, $5, $6)`
	sqlSteps        = `SELECT seq, time, actor, action, details FROM subject_steps WHERE request_id = $1 ORDER BY seq`
	sqlOpenDue      = `SELECT due_at FROM subject_requests WHERE status = 'open'`

	sqlInsertCandidate = `INSERT INTO subject_candidates (request_id, order_id, matched_on, found_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`
	sqlDecide = `UPDATE subject_candidates SET decision = $1, reason = $2, decided_by = $3, decided_at = $4
		WHERE request_id = $5 AND order_id = $6`
	sqlCandidates = `SELECT order_id, matched_on, COALESCE(decision, '') AS decision, reason, COALESCE(decided_by, '') AS decided_by,
		decided_at FROM subject_candidates WHERE request_id = $1`

	sqlSchedule     = `INSERT INTO subject_erasures (order_id, request_id, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	sqlScheduled    = `SELECT order_id, request_id FROM subject_erasures ORDER BY since, order_id LIMIT $1`
	sqlScheduledFor = `SELECT order_id, request_id FROM subject_erasures WHERE order_id = $1`
	sqlUnschedule   = `DELETE FROM subject_erasures WHERE order_id = $1 AND request_id = $2`

	sqlToRehash = `SELECT id, email_hash, phone_hash FROM subject_requests WHERE status = 'open' AND lookup_version != $1`
	sqlRehash   = `UPDATE subject_requests SET email_hash = $1, phone_hash = $2, lookup_version = $3 WHERE id = $4`
	sqlVersions = `SELECT DISTINCT lookup_version FROM subject_requests WHERE status = 'open'`
)

type requestRow struct {
	ID          string     `db:"id"`
	Type        string     `db:"type"`
	Status      string     `db:"status"`
	EmailHash   []byte     `db:"email_hash"`
	PhoneHash   []byte     `db:"phone_hash"`
	ReceivedAt  store.Time `db:"received_at"`
	DueAt       store.Time `db:"due_at"`
	CompletedAt store.Time `db:"completed_at"`
	Actor       string     `db:"actor"`
	ExtendedAt  store.Time `db:"extended_at"`
	ExtReason   *string    `db:"extension_reason"`
	Lookup      uint32     `db:"lookup_version"`
}

// requestRows reads and writes the subjects package's tables.
type requestRows struct{ db *store.DB }

func (s *Service) rows() requestRows { return requestRows{s.DB} }

// insertRequestParams is a new, open request.
type insertRequestParams struct {
	ID                   string
	Type                 Type
	EmailHash, PhoneHash []byte
	ReceivedAt, DueAt    time.Time
	Actor                string
	LookupVersion        uint32
}

func (q requestRows) insert(ctx context.Context, tx *store.Tx, p insertRequestParams) error {
	_, err := tx.ExecContext(ctx, sqlInsertRequest, p.ID, p.Type, nilIfEmpty(p.EmailHash), nilIfEmpty(p.PhoneHash),
		store.FormatTime(p.ReceivedAt), store.FormatTime(p.DueAt), p.Actor, p.LookupVersion)
	return err
}

// get reads one request, ok false when there is none.
func (q requestRows) get(ctx context.Context, r sqlx.QueryerContext, id string) (row requestRow, ok bool, err error) {
	err = sqlx.GetContext(ctx, r, &row, sqlGetRequest, id)
	if store.IsNoRows(err) {
		return requestRow{}, false, nil
	}
	return row, err == nil, err
}

// list returns up to limit requests of the status (any: ""), oldest due
// first.
func (q requestRows) list(ctx context.Context, status Status, limit int) ([]requestRow, error) {
	var rows []requestRow
	err := q.db.Reader.SelectContext(ctx, &rows, sqlListRequests, status, limit)
	return rows, err
}

// complete completes the open request at.
func (q requestRows) complete(ctx context.Context, tx *store.Tx, id string, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlComplete, store.FormatTime(at), id)
	return err
}

// extendParams extends a request's deadline once, to DueAt.
type extendParams struct {
	ID                string
	DueAt, ExtendedAt time.Time
	Reason            string
}

func (q requestRows) extend(ctx context.Context, tx *store.Tx, p extendParams) error {
	_, err := tx.ExecContext(ctx, sqlExtend, store.FormatTime(p.DueAt), store.FormatTime(p.ExtendedAt), p.Reason, p.ID)
	return err
}

// openDue returns the due dates of the open requests.
func (q requestRows) openDue(ctx context.Context) ([]store.Time, error) {
	var dues []store.Time
	err := q.db.Reader.SelectContext(ctx, &dues, sqlOpenDue)
	return dues, err
}

type hashesRow struct {
	ID        string `db:"id"`
	EmailHash []byte `db:"email_hash"`
	PhoneHash []byte `db:"phone_hash"`
}

// toRehash returns the open requests whose hashes were made under another
// lookup key than version; rehash stores one's new hashes.
func (q requestRows) toRehash(ctx context.Context, tx *store.Tx, version uint32) ([]hashesRow, error) {
	var rows []hashesRow
	err := tx.SelectContext(ctx, &rows, sqlToRehash, version)
	return rows, err
}

func (q requestRows) rehash(ctx context.Context, tx *store.Tx, id string, email, phone []byte, version uint32) error {
	_, err := tx.ExecContext(ctx, sqlRehash, nilIfEmpty(email), nilIfEmpty(phone), version, id)
	return err
}

// lookupVersions returns the lookup key versions of open requests' hashes.
func (q requestRows) lookupVersions(ctx context.Context) ([]uint32, error) {
	var vs []uint32
	err := q.db.Reader.SelectContext(ctx, &vs, sqlVersions)
	return vs, err
}

// stepParams is one step of a request; Details is JSON.
type stepParams struct {
	RequestID     string
	Time          time.Time
	Actor, Action string
	Details       string
}

// addStep appends the step after the request's last.
func (q requestRows) addStep(ctx context.Context, tx *store.Tx, p stepParams) error {
	var seq int
	if err := tx.GetContext(ctx, &seq, sqlNextStep, p.RequestID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, sqlInsertStep, p.RequestID, seq, store.FormatTime(p.Time), p.Actor, p.Action, p.Details)
	return err
}

type stepRow struct {
	Seq     int        `db:"seq"`
	Time    store.Time `db:"time"`
	Actor   string     `db:"actor"`
	Action  string     `db:"action"`
	Details string     `db:"details"`
}

// steps returns the request's steps in order.
func (q requestRows) steps(ctx context.Context, r sqlx.QueryerContext, requestID string) ([]stepRow, error) {
	var rows []stepRow
	err := sqlx.SelectContext(ctx, r, &rows, sqlSteps, requestID)
	return rows, err
}

// keepCandidate keeps an order found for the request, with what matched.
func (q requestRows) keepCandidate(ctx context.Context, tx *store.Tx, requestID, orderID string, matchedOn []string, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlInsertCandidate, requestID, orderID, strings.Join(matchedOn, ","), store.FormatTime(at))
	return err
}

// decideParams is the decision on a kept candidate.
type decideParams struct {
	RequestID, OrderID      string
	Decision, Reason, Actor string
	At                      time.Time
}

func (q requestRows) decide(ctx context.Context, tx *store.Tx, p decideParams) error {
	_, err := tx.ExecContext(ctx, sqlDecide, p.Decision, p.Reason, p.Actor, store.FormatTime(p.At), p.RequestID, p.OrderID)
	return err
}

type candidateRow struct {
	OrderID   string     `db:"order_id"`
	MatchedOn string     `db:"matched_on"`
	Decision  string     `db:"decision"`
	Reason    string     `db:"reason"`
	DecidedBy string     `db:"decided_by"`
	DecidedAt store.Time `db:"decided_at"`
}

// candidates returns the candidates the request keeps.
func (q requestRows) candidates(ctx context.Context, r sqlx.QueryerContext, requestID string) ([]candidateRow, error) {
	var rows []candidateRow
	err := sqlx.SelectContext(ctx, r, &rows, sqlCandidates, requestID)
	return rows, err
}

type scheduledRow struct {
	OrderID   string `db:"order_id"`
	RequestID string `db:"request_id"`
}

// schedule keeps the request's erasure of the order for when it closes.
func (q requestRows) schedule(ctx context.Context, tx *store.Tx, orderID, requestID string, since time.Time) error {
	_, err := tx.ExecContext(ctx, sqlSchedule, orderID, requestID, store.FormatTime(since))
	return err
}

// scheduled returns the scheduled erasures of the order, or (orderID
// empty) up to limit of all, oldest first.
func (q requestRows) scheduled(ctx context.Context, orderID string, limit int) ([]scheduledRow, error) {
	var rows []scheduledRow
	var err error
	if orderID != "" {
		err = q.db.Reader.SelectContext(ctx, &rows, sqlScheduledFor, orderID)
	} else {
		err = q.db.Reader.SelectContext(ctx, &rows, sqlScheduled, limit)
	}
	return rows, err
}

func (q requestRows) unschedule(ctx context.Context, tx *store.Tx, orderID, requestID string) error {
	_, err := tx.ExecContext(ctx, sqlUnschedule, orderID, requestID)
	return err
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
