package subjects

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

const (
	sqlInsertRequest = `INSERT INTO subject_requests (id, type, status, email_hash, phone_hash, received_at, due_at, actor, lookup_version)
		VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8)`
	requestColumns = `id, type, status, email_hash, phone_hash, received_at, due_at, completed_at, actor, extended_at, extension_reason,
		lookup_version`
	sqlGetRequest = `SELECT ` + requestColumns + ` FROM subject_requests WHERE id = $1`
	// Oldest due first: the queue a DPO works through.
	sqlListRequests = `SELECT ` + requestColumns + ` FROM subject_requests WHERE ($1 = '' OR status = $2) ORDER BY due_at, id LIMIT $3`
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

func (r requestRow) request() *Request {
	out := &Request{ID: r.ID, Type: Type(r.Type), Status: Status(r.Status), ReceivedAt: r.ReceivedAt.Time, DueAt: r.DueAt.Time,
		Actor: r.Actor, emailHash: r.EmailHash, phoneHash: r.PhoneHash, extendedAt: r.ExtendedAt.Time, lookupVersion: r.Lookup}
	if r.ExtReason != nil {
		out.extensionReason = *r.ExtReason
	}
	if !r.CompletedAt.IsZero() {
		t := r.CompletedAt.Time
		out.CompletedAt = &t
	}
	return out
}

func getRequest(ctx context.Context, q sqlx.QueryerContext, id string) (*Request, error) {
	var r requestRow
	if err := sqlx.GetContext(ctx, q, &r, sqlGetRequest, id); err != nil {
		if store.IsNoRows(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get subject request: %w", err)
	}
	return r.request(), nil
}

// addStep appends a step with its result (encoded as JSON) to a request.
func (s *Service) addStep(ctx context.Context, tx *store.Tx, requestID, actor, action string, result any) error {
	var seq int
	if err := tx.GetContext(ctx, &seq, sqlNextStep, requestID); err != nil {
		return fmt.Errorf("next step: %w", err)
	}
	b := []byte("{}")
	if result != nil {
		var err error
		if b, err = json.Marshal(result); err != nil {
			return fmt.Errorf("encode step: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqlInsertStep, requestID, seq, store.FormatTime(s.Clock.Now()), actor, action, string(b)); err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	return nil
}

func steps(ctx context.Context, q sqlx.QueryerContext, requestID string) ([]Step, error) {
	var rows []struct {
		Seq     int        `db:"seq"`
		Time    store.Time `db:"time"`
		Actor   string     `db:"actor"`
		Action  string     `db:"action"`
		Details string     `db:"details"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, sqlSteps, requestID); err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	out := make([]Step, len(rows))
	for i, r := range rows {
		out[i] = Step{Seq: r.Seq, Time: r.Time.Time, Actor: r.Actor, Action: r.Action}
		var res any
		if json.Unmarshal([]byte(r.Details), &res) == nil {
			if m, ok := res.(map[string]any); !ok || len(m) > 0 {
				out[i].Result = res
			}
		}
	}
	return out, nil
}

// storedCandidates returns the candidates a request keeps, by order id.
func storedCandidates(ctx context.Context, q sqlx.QueryerContext, requestID string) (map[string]*keptCandidate, error) {
	var rows []struct {
		OrderID   string     `db:"order_id"`
		MatchedOn string     `db:"matched_on"`
		Decision  string     `db:"decision"`
		Reason    string     `db:"reason"`
		DecidedBy string     `db:"decided_by"`
		DecidedAt store.Time `db:"decided_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, sqlCandidates, requestID); err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	out := make(map[string]*keptCandidate, len(rows))
	for _, r := range rows {
		k := &keptCandidate{MatchedOn: []string{}, Decision: r.Decision, Reason: r.Reason, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt}
		if r.MatchedOn != "" {
			k.MatchedOn = strings.Split(r.MatchedOn, ",")
		}
		out[r.OrderID] = k
	}
	return out, nil
}

// TranslateHashes follows a re-hash of orders under lookup key version
// (orders.Rehash): an open request whose every stored hash was made again
// takes the new ones. One whose identifier is on no live order keeps its
// hash under the old key (it matched nothing; its candidates are kept).
func (s *Service) TranslateHashes(ctx context.Context, tx *store.Tx, changed map[string][]byte, version uint32) error {
	var rows []struct {
		ID        string `db:"id"`
		EmailHash []byte `db:"email_hash"`
		PhoneHash []byte `db:"phone_hash"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, email_hash, phone_hash FROM subject_requests
		WHERE status = 'open' AND lookup_version != $1`, version); err != nil {
		return fmt.Errorf("requests to re-hash: %w", err)
	}
	for _, r := range rows {
		eh, eok := translate(changed, r.EmailHash)
		ph, pok := translate(changed, r.PhoneHash)
		if !eok || !pok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subject_requests SET email_hash = $1, phone_hash = $2, lookup_version = $3 WHERE id = $4`,
			nilIfEmpty(eh), nilIfEmpty(ph), version, r.ID); err != nil {
			return fmt.Errorf("re-hash request: %w", err)
		}
	}
	return nil
}

// translate returns the new hash of old (none for none), and whether it
// had one.
func translate(changed map[string][]byte, old []byte) ([]byte, bool) {
	if len(old) == 0 {
		return nil, true
	}
	h, ok := changed[hex.EncodeToString(old)]
	return h, ok
}

// LookupVersions returns the lookup key versions open requests' hashes
// were made with.
func (s *Service) LookupVersions(ctx context.Context) (map[uint32]bool, error) {
	var vs []uint32
	if err := s.DB.Reader.SelectContext(ctx, &vs, `SELECT DISTINCT lookup_version FROM subject_requests WHERE status = 'open'`); err != nil {
		return nil, fmt.Errorf("request lookup versions: %w", err)
	}
	out := map[uint32]bool{}
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}
