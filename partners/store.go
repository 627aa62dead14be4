package partners

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The partners package's statements (partners, api_keys, partner_secrets),
// as methods of partnerRows. Both engines read them alike. Reads take r, a
// transaction or the read pool; writes take the transaction.
const (
	sqlInsertPartner = `INSERT INTO partners (id, kind, name, endpoint_url, fields, enabled, demo, country, transfer_basis, adequacy_framework, created_at)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10)`
	sqlSelectPartner = `SELECT id, kind, name, endpoint_url, fields, enabled, disabled_reason, demo, country, transfer_basis, adequacy_framework, created_at
		FROM partners`
	sqlSetEndpoint = `UPDATE partners SET endpoint_url = $1 WHERE id = $2`
	sqlSetEnabled  = `UPDATE partners SET enabled = $1, disabled_reason = $2 WHERE id = $3`
	sqlInsertKey   = `INSERT INTO api_keys (id, role, partner_id, hash, created_at) VALUES ($1, $2, $3, $4, $5)`
	sqlRevokeKey   = `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`
	sqlSelectKey   = `SELECT id, role, partner_id, created_at, revoked_at FROM api_keys`
	// A reseller key works only while its reseller is enabled.
	sqlKeyByHash = `SELECT k.id, k.role, COALESCE(k.partner_id, '') AS partner_id,
		k.revoked_at IS NOT NULL OR COALESCE(p.enabled, 1) = 0 AS revoked
		FROM api_keys k LEFT JOIN partners p ON p.id = k.partner_id WHERE k.hash = $1`
	sqlKeyByID = `SELECT k.id, k.role, COALESCE(k.partner_id, '') AS partner_id,
		k.revoked_at IS NOT NULL OR COALESCE(p.enabled, 1) = 0 AS revoked
		FROM api_keys k LEFT JOIN partners p ON p.id = k.partner_id WHERE k.id = $1`
	sqlPartnerByID = sqlSelectPartner + ` WHERE id = $1`
	sqlPartners    = sqlSelectPartner + ` ORDER BY created_at, id`
	sqlRecipients  = sqlSelectPartner + ` WHERE kind IN ('logistics', 'manufacturer') ORDER BY created_at, id`
	sqlDeliverable = `SELECT id FROM partners WHERE enabled = 1 AND endpoint_url != '' ORDER BY id`
	sqlKeys        = sqlSelectKey + ` ORDER BY created_at, id`

	sqlInsertSecret  = `INSERT INTO partner_secrets (partner_id, secret, created_at) VALUES ($1, $2, $3)`
	sqlExpireSecrets = `UPDATE partner_secrets SET expires_at = $1 WHERE partner_id = $2 AND (expires_at IS NULL OR expires_at > $3)`
	sqlActiveSecrets = `SELECT partner_id, secret, created_at FROM partner_secrets
		WHERE partner_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC`
	sqlPlainSecrets = `SELECT partner_id, secret, created_at FROM partner_secrets WHERE secret LIKE 'whsec\_%' ESCAPE '\'`
	sqlSealSecret   = `UPDATE partner_secrets SET secret = $1 WHERE partner_id = $2 AND created_at = $3`
	sqlAllSecrets   = `SELECT partner_id, secret, created_at FROM partner_secrets`
)

// partnerRows reads and writes the partners package's tables.
type partnerRows struct{ db *store.DB }

func (s *Store) rows() partnerRows { return partnerRows{s.DB} }

type partnerRow struct {
	ID             string     `db:"id"`
	Kind           string     `db:"kind"`
	Name           string     `db:"name"`
	EndpointURL    string     `db:"endpoint_url"`
	Fields         string     `db:"fields"`
	Enabled        bool       `db:"enabled"`
	DisabledReason string     `db:"disabled_reason"`
	Demo           bool       `db:"demo"`
	Country        string     `db:"country"`
	TransferBasis  string     `db:"transfer_basis"`
	Framework      string     `db:"adequacy_framework"`
	CreatedAt      store.Time `db:"created_at"`
}

type keyRow struct {
	ID        string     `db:"id"`
	Role      string     `db:"role"`
	PartnerID *string    `db:"partner_id"`
	CreatedAt store.Time `db:"created_at"`
	RevokedAt store.Time `db:"revoked_at"`
}

type secretRow struct {
	PartnerID string `db:"partner_id"`
	Secret    string `db:"secret"`
	CreatedAt string `db:"created_at"`
}

func (q partnerRows) insert(ctx context.Context, tx *store.Tx, p Partner) error {
	_, err := tx.ExecContext(ctx, sqlInsertPartner, p.ID, p.Kind, p.Name, p.EndpointURL, FieldsString(p.Fields), p.Demo,
		p.Country, p.TransferBasis, string(p.AdequacyFramework), store.FormatTime(p.CreatedAt))
	return err
}

// get reads one partner, ok false when there is none.
func (q partnerRows) get(ctx context.Context, r sqlx.QueryerContext, id string) (row partnerRow, ok bool, err error) {
	err = sqlx.GetContext(ctx, r, &row, sqlPartnerByID, id)
	if store.IsNoRows(err) {
		return partnerRow{}, false, nil
	}
	return row, err == nil, err
}

// list returns every partner, or (recipients) the recipients only, oldest
// first.
func (q partnerRows) list(ctx context.Context, r sqlx.QueryerContext, recipients bool) ([]partnerRow, error) {
	query := sqlPartners
	if recipients {
		query = sqlRecipients
	}
	var rows []partnerRow
	err := sqlx.SelectContext(ctx, r, &rows, query)
	return rows, err
}

// deliverable returns the enabled partners with an endpoint.
func (q partnerRows) deliverable(ctx context.Context) ([]string, error) {
	var ids []string
	err := q.db.Reader.SelectContext(ctx, &ids, sqlDeliverable)
	return ids, err
}

// setEnabled and setEndpoint change a partner, reporting whether it exists.
func (q partnerRows) setEnabled(ctx context.Context, tx *store.Tx, id string, enabled bool, reason string) (bool, error) {
	return affected(tx.ExecContext(ctx, sqlSetEnabled, enabled, reason, id))
}

func (q partnerRows) setEndpoint(ctx context.Context, tx *store.Tx, id, endpoint string) (bool, error) {
	return affected(tx.ExecContext(ctx, sqlSetEndpoint, endpoint, id))
}

// insertKeyParams is a new API key; Hash is the SHA-256 of its secret.
type insertKeyParams struct {
	ID        string
	Role      Role
	PartnerID string // empty: bound to none
	Hash      []byte
	CreatedAt time.Time
}

func (q partnerRows) insertKey(ctx context.Context, tx *store.Tx, p insertKeyParams) error {
	var pid any
	if p.PartnerID != "" {
		pid = p.PartnerID
	}
	_, err := tx.ExecContext(ctx, sqlInsertKey, p.ID, p.Role, pid, p.Hash, store.FormatTime(p.CreatedAt))
	return err
}

// revokeKey revokes a live key at, reporting whether there was one.
func (q partnerRows) revokeKey(ctx context.Context, tx *store.Tx, id string, at time.Time) (bool, error) {
	return affected(tx.ExecContext(ctx, sqlRevokeKey, store.FormatTime(at), id))
}

// keys returns every key record, oldest first.
func (q partnerRows) keys(ctx context.Context) ([]keyRow, error) {
	var rows []keyRow
	err := q.db.Reader.SelectContext(ctx, &rows, sqlKeys)
	return rows, err
}

type principalRow struct {
	ID        string `db:"id"`
	Role      string `db:"role"`
	PartnerID string `db:"partner_id"`
	Revoked   bool   `db:"revoked"`
}

// keyByHash and keyByID read a key's principal, ok false when there is none.
func (q partnerRows) keyByHash(ctx context.Context, hash []byte) (principalRow, bool, error) {
	return q.principal(ctx, sqlKeyByHash, hash)
}

func (q partnerRows) keyByID(ctx context.Context, id string) (principalRow, bool, error) {
	return q.principal(ctx, sqlKeyByID, id)
}

func (q partnerRows) principal(ctx context.Context, query string, arg any) (row principalRow, ok bool, err error) {
	err = q.db.Reader.GetContext(ctx, &row, query, arg)
	if store.IsNoRows(err) {
		return principalRow{}, false, nil
	}
	return row, err == nil, err
}

// insertSecret stores a partner's sealed secret created at createdAt (as
// stored: it is part of the seal's binding).
func (q partnerRows) insertSecret(ctx context.Context, tx *store.Tx, partnerID, sealed, createdAt string) error {
	_, err := tx.ExecContext(ctx, sqlInsertSecret, partnerID, sealed, createdAt)
	return err
}

// expireSecrets makes the partner's secrets live at now expire at until.
func (q partnerRows) expireSecrets(ctx context.Context, tx *store.Tx, partnerID string, now, until time.Time) error {
	_, err := tx.ExecContext(ctx, sqlExpireSecrets, store.FormatTime(until), partnerID, store.FormatTime(now))
	return err
}

// activeSecrets returns the partner's secrets live at now, newest first.
func (q partnerRows) activeSecrets(ctx context.Context, r sqlx.QueryerContext, partnerID string, now time.Time) ([]secretRow, error) {
	var rows []secretRow
	err := sqlx.SelectContext(ctx, r, &rows, sqlActiveSecrets, partnerID, store.FormatTime(now))
	return rows, err
}

// secrets returns every stored secret, or (plain) those still in plain
// text.
func (q partnerRows) secrets(ctx context.Context, r sqlx.QueryerContext, plain bool) ([]secretRow, error) {
	query := sqlAllSecrets
	if plain {
		query = sqlPlainSecrets
	}
	var rows []secretRow
	err := sqlx.SelectContext(ctx, r, &rows, query)
	return rows, err
}

// sealSecret replaces one stored secret by its sealed form.
func (q partnerRows) sealSecret(ctx context.Context, tx *store.Tx, r secretRow, sealed string) error {
	_, err := tx.ExecContext(ctx, sqlSealSecret, sealed, r.PartnerID, r.CreatedAt)
	return err
}

// affected reports whether a statement changed a row.
func affected(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
