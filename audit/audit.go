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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
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
	"orders": true, "recipients": true, "callback_id": true, "carrier": true,
	// Transfers (Art. 44-46) and subject requests (Art. 15-21): a keyed
	// hash stands for the person, field names for what changed.
	"country": true, "transfer_basis": true, "type": true, "subject_hash": true, "changed": true,
	"until": true, "due_at": true, "format": true,
	// Candidates of a request, deadlines and lifted restrictions: states,
	// identifier names and times; a DPO's reasons stay with the request.
	"adequacy_framework": true, "first_order_id": true, "last_order_id": true, "needs_review": true, "matched_on": true, "state": true, "previous_due_at": true, "person_told_at": true,
}

// maxDetail bounds a detail value: ids, field lists and hashes are short.
const maxDetail = 200

// Log appends to and reads the trail. Key signs checkpoints (see LoadKey).
type Log struct {
	DB  *store.DB
	Now func() time.Time
	Key Key

	mu sync.Mutex // guards the held entries
}

// heldKey is where a transaction under Hold keeps its entries (DB.Value).
const heldKey = "audit.held"

// held are the entries recorded in one transaction, waiting for the commit.
type held struct {
	entries []*Entry
}

// heldIn returns the entries held for tx, or nil when tx is not under Hold.
func (l *Log) heldIn(tx *sqlx.Tx) *held {
	h, _ := l.DB.Value(tx, heldKey).(*held)
	return h
}

func (l *Log) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Record appends an entry inside the caller's transaction, so the entry
// commits or rolls back with the change it records. It refuses subject and
// detail names outside the fixed lists, and over-long values.
func (l *Log) Record(ctx context.Context, tx *sqlx.Tx, actor, action string, subjects, details map[string]string) error {
	e := Entry{Time: l.now(), Actor: actor, Action: action, Subjects: map[string]string{}, Details: map[string]string{}}
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
	// Every transaction of the database's Tx holds its entries to its
	// commit: the append takes the trail's lock (on PostgreSQL), and taken
	// at the first entry it would be held across the rest of the
	// transaction, every row lock it waits for included, while the other
	// transactions queue behind it (or deadlock with it, holding a row it
	// waits for while they wait for the lock).
	if l.heldIn(tx) == nil && l.DB.InTx(tx) {
		l.Hold(tx)
	}
	if h := l.heldIn(tx); h != nil {
		l.mu.Lock()
		h.entries = append(h.entries, &e)
		l.mu.Unlock()
		return nil
	}
	return appendEntries(ctx, tx, []*Entry{&e})
}

// Hold makes Record keep the entries recorded in tx and append them all
// just before tx commits (see store.DB.BeforeCommit): one read of the
// tree's size and one statement for all their rows instead of four
// statements each. Work that records many entries in one transaction (a
// group commit of orders, the dispatcher's result batches) holds them. The
// entries still commit or roll back with tx. Holding tx again keeps what
// is held; work under a savepoint that rolls back uses Mark and Rewind.
func (l *Log) Hold(tx *sqlx.Tx) {
	if l.heldIn(tx) == nil {
		l.DB.SetValue(tx, heldKey, &held{})
	}
	l.DB.BeforeCommit(tx, "audit", l.flush)
}

// Mark returns a position in the entries held for tx, for Rewind.
func (l *Log) Mark(tx *sqlx.Tx) int {
	h := l.heldIn(tx)
	if h == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(h.entries)
}

// Rewind drops the entries held for tx since mark: the savepoint that
// recorded them rolled back.
func (l *Log) Rewind(tx *sqlx.Tx, mark int) {
	h := l.heldIn(tx)
	if h == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if mark < len(h.entries) {
		h.entries = h.entries[:mark]
	}
}

// flush appends the entries held for tx, in the order they were recorded,
// and ends the hold. Hold arranges for it to run just before tx commits.
func (l *Log) flush(ctx context.Context, tx *sqlx.Tx) error {
	h := l.heldIn(tx)
	if h == nil {
		return nil
	}
	l.DB.SetValue(tx, heldKey, nil)
	l.mu.Lock()
	es := h.entries
	l.mu.Unlock()
	return appendEntries(ctx, tx, es)
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
