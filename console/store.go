package console

import (
	"context"
	"fmt"
	"time"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
)

// The console's table is console_sessions: a row per signed-in session,
// found by the hash of its cookie's token (the token itself is never
// stored). Its statements are here, as methods of sessions.
const (
	sqlInsertSession = `INSERT INTO console_sessions (token_hash, key_id, role, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)`
	sqlGetSession    = `SELECT key_id, role, csrf, created_at, last_seen FROM console_sessions WHERE token_hash = $1`
	sqlTouchSession  = `UPDATE console_sessions SET last_seen = $1 WHERE token_hash = $2`
	sqlEndSession    = `DELETE FROM console_sessions WHERE token_hash = $1`
	sqlEndIdle       = `DELETE FROM console_sessions WHERE last_seen < $1`
)

// sessions reads and writes console_sessions.
type sessions struct{ db *store.DB }

// newSession is a session to open.
type newSession struct {
	TokenHash []byte
	KeyID     string
	Role      partners.Role
	CSRF      string
	At        time.Time
}

// open opens s inside tx, first ending every session idle since before
// idleBefore.
func (q sessions) open(ctx context.Context, tx *store.Tx, s newSession, idleBefore time.Time) error {
	if _, err := tx.ExecContext(ctx, sqlEndIdle, store.FormatTime(idleBefore)); err != nil {
		return fmt.Errorf("end idle sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sqlInsertSession, s.TokenHash, s.KeyID, s.Role, s.CSRF,
		store.FormatTime(s.At), store.FormatTime(s.At)); err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	return nil
}

// get returns the session whose token has hash, with ok false when there
// is none.
func (q sessions) get(ctx context.Context, hash []byte) (s session, ok bool, err error) {
	var row struct {
		KeyID    string     `db:"key_id"`
		Role     string     `db:"role"`
		CSRF     string     `db:"csrf"`
		Created  store.Time `db:"created_at"`
		LastSeen store.Time `db:"last_seen"`
	}
	if err := q.db.Reader.GetContext(ctx, &row, sqlGetSession, hash); err != nil {
		if store.IsNoRows(err) {
			return session{}, false, nil
		}
		return session{}, false, fmt.Errorf("read session: %w", err)
	}
	return session{hash: hash, KeyID: row.KeyID, Role: partners.Role(row.Role), CSRF: row.CSRF, created: row.Created.Time,
		lastSeen: row.LastSeen.Time}, true, nil
}

// touch records that the session with hash was used at t.
func (q sessions) touch(ctx context.Context, hash []byte, t time.Time) error {
	return q.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, sqlTouchSession, store.FormatTime(t), hash)
		return err
	})
}

// end deletes the session with hash.
func (q sessions) end(ctx context.Context, hash []byte) error {
	return q.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, sqlEndSession, hash)
		return err
	})
}
