// Package audit is the append-only, tamper-evident trail of every
// disclosure, order event, purge and administrative action (GDPR Art. 5(2),
// 30). Entries form a Merkle tree with RFC 6962 hashing (Certificate
// Transparency, the Go checksum database), built with sumdb/tlog; signed
// checkpoints of the tree let anyone holding one prove later that the log
// was only ever appended to. Entries hold ids, field names, hashes, times
// and actors, never personal values, so the trail can be kept forever.
package audit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

// Entry is one audit record.
type Entry struct {
	Seq      int64             `json:"seq"`
	Time     time.Time         `json:"time"`
	Actor    string            `json:"actor"`
	Action   string            `json:"action"`
	Subjects map[string]string `json:"subjects"`
	Details  map[string]string `json:"details"`
	// Pending: recorded, committed with its change, and not yet given its
	// place in the tree (Seq is -1): the integrator does that within a
	// second (integrate.go).
	Pending bool `json:"pending,omitempty"`
}

// subjectKeys are the ids an entry may name; each has its own column.
var subjectKeys = []string{"order_id", "delivery_id", "partner_id", "purge_run_id", "key_id", "request_id"}

// detailKeys are the only detail names an entry may carry. A fixed list
// keeps free text, and with it personal data, out of the trail.
var detailKeys = map[string]bool{
	"event": true, "fields": true, "legal_basis": true, "payload_sha256": true, "payload_hmac": true, "outcome": true,
	"status": true, "from": true, "to": true, "reason": true, "reason_sha256": true, "kind": true, "role": true,
	"grace": true, "items": true, "attempt": true, "attempts": true, "http_status": true, "count": true,
	"digest": true, "as_of": true, "fiscal_year": true, "route": true, "source": true, "line": true,
	"orders": true, "recipients": true, "callback_id": true, "carrier": true, "subject_requests": true,
	// Transfers (Art. 44-46) and subject requests (Art. 15-21): a keyed
	// hash stands for the person, field names for what changed.
	"country": true, "transfer_basis": true, "type": true, "subject_hash": true, "changed": true,
	"until": true, "due_at": true, "format": true,
	// Candidates of a request, deadlines and lifted restrictions: states,
	// identifier names and times; a DPO's reasons stay with the request.
	"adequacy_framework": true, "first_order_id": true, "last_order_id": true, "needs_review": true, "matched_on": true, "state": true, "previous_due_at": true, "person_told_at": true,
	// The breach register (Art. 33, 34): its id, where, when, and figures.
	"breach_id": true, "scope": true, "aware_at": true, "persons": true, "at": true, "late": true,
}

// maxDetail bounds a detail value: ids, field lists and hashes are short.
const maxDetail = 200

// Log appends to and reads the trail. Key signs checkpoints (see LoadKey).
type Log struct {
	DB    *store.DB
	Clock base.Clock
	Key   Key
	// Lag, if set, observes each integrated entry's wait between being
	// recorded and being integrated, in seconds
	// (husky_audit_integration_lag_seconds).
	Lag prometheus.Observer
}

// Recorder records an audit entry inside a transaction: what every package
// that changes data is given (a *Log, or a test's own).
type Recorder interface {
	Record(ctx context.Context, tx *store.Tx, actor, action string, subjects, details map[string]string) error
}

// Record records an entry inside the caller's transaction, so the entry
// commits or rolls back with the change it records (a savepoint that rolls
// back drops the entries recorded under it). It refuses subject and detail
// names outside the fixed lists, and over-long values.
//
// The entries of a transaction are held on it and written together just
// before it commits, in one statement, as pending entries: no lock, no
// read of the tree. The integrator gives them their place in the tree
// after they commit (integrate.go), so no transaction waits for another's
// commit to record what it did.
func (l *Log) Record(ctx context.Context, tx *store.Tx, actor, action string, subjects, details map[string]string) error {
	e := store.AuditEntry{Time: l.Clock.Now(), Actor: actor, Action: action, Subjects: map[string]string{}, Details: map[string]string{}}
	for k, v := range subjects {
		if v == "" {
			continue
		}
		if !contains(subjectKeys, k) {
			return fmt.Errorf("audit %s: unknown subject %q", action, k)
		}
		e.Subjects[k] = v
	}
	for k, v := range details {
		if !detailKeys[k] {
			return fmt.Errorf("audit %s: detail %q is not on the audit allow-list", action, k)
		}
		if utf8.RuneCountInString(v) > maxDetail {
			return fmt.Errorf("audit %s: detail %q is longer than %d characters", action, k, maxDetail)
		}
		e.Details[k] = v
	}
	if actor == "" || action == "" {
		return fmt.Errorf("audit: actor and action are required")
	}
	tx.Audit = append(tx.Audit, e)
	tx.BeforeCommit("audit", flush)
	return nil
}

// flush writes the entries held on tx (pending, or in place: writeAt), in the order they were
// recorded. Record arranges for it to run just before tx commits.
func flush(ctx context.Context, tx *store.Tx) error {
	es := make([]*Entry, len(tx.Audit))
	for i, h := range tx.Audit {
		es[i] = &Entry{Time: h.Time, Actor: h.Actor, Action: h.Action, Subjects: h.Subjects, Details: h.Details}
	}
	tx.Audit = nil
	if err := (*writeAt.For(tx.Engine()))(ctx, tx, es); err != nil {
		return fmt.Errorf("record audit entries: %w", err)
	}
	return nil
}

// writeAt is where a transaction's entries go at its commit. On
// PostgreSQL they wait, pending, for the integrator: no transaction waits
// for another's. SQLite's single writer runs one transaction at a time
// already, so the committing transaction is the sequencer and gives its
// entries their place at once; pending rows there only added a write and
// a read of each entry, and cost a fifth of intake (0.81-1.09x of the
// floor direct, 0.66-0.71x through the integrator, make bench, same run).
var writeAt = store.PerEngine[func(ctx context.Context, tx *store.Tx, es []*Entry) error]{
	SQLite:     appendNow,
	PostgreSQL: insertPending,
}

// appendNow gives es their place at the end of the trail, inside tx.
func appendNow(ctx context.Context, tx *store.Tx, es []*Entry) error {
	size, err := trailSize(ctx, tx)
	if err != nil {
		return err
	}
	return writeEntries(ctx, tx, size, es)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// ErrNoCheckpoint is returned when no checkpoint has been signed yet.
var ErrNoCheckpoint = api.New(http.StatusNotFound, "no_checkpoint", "no audit checkpoint has been signed yet")

// Origin is the first line of every checkpoint: it names this log.
const Origin = "husky.milestone.dev/audit"

func trimNL(s string) string { return strings.TrimRight(s, "\n") }
