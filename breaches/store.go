package breaches

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The breaches table's statements, as methods of breachRows. Both engines
// read them alike. Reads take r, a transaction or the read pool; writes
// take the transaction.
const (
	breachColumns = `id, scope, partners, window_from, window_to, aware_at, description, consequences, measures,
		opened_by, opened_at, impact, impact_at, notified_at, late_reason, high_risk, risk_reason, advice`
	sqlInsertBreach = `INSERT INTO breaches (id, scope, partners, window_from, window_to, aware_at, description, consequences,
		measures, opened_by, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	sqlGetBreach = `SELECT ` + breachColumns + ` FROM breaches WHERE id = $1`
	// Newest awareness first: the register as the DPO reads it.
	sqlListBreaches = `SELECT ` + breachColumns + ` FROM breaches ORDER BY aware_at DESC, id DESC LIMIT $1`
	sqlSetImpact    = `UPDATE breaches SET impact = $1, impact_at = $2 WHERE id = $3`
	sqlSetNotified  = `UPDATE breaches SET notified_at = $1, late_reason = $2 WHERE id = $3 AND notified_at IS NULL`
	sqlSetRisk      = `UPDATE breaches SET high_risk = $1, risk_reason = $2, advice = $3 WHERE id = $4`
	sqlUnnotified   = `SELECT aware_at FROM breaches WHERE notified_at IS NULL`
)

// breachRows reads and writes the breaches table.
type breachRows struct{ db *store.DB }

func (s *Service) rows() breachRows { return breachRows{s.DB} }

// breachRow is one row of breaches.
type breachRow struct {
	ID           string     `db:"id"`
	Scope        string     `db:"scope"`
	Partners     string     `db:"partners"`
	WindowFrom   store.Time `db:"window_from"`
	WindowTo     store.Time `db:"window_to"`
	AwareAt      store.Time `db:"aware_at"`
	Description  string     `db:"description"`
	Consequences string     `db:"consequences"`
	Measures     string     `db:"measures"`
	OpenedBy     string     `db:"opened_by"`
	OpenedAt     store.Time `db:"opened_at"`
	Impact       string     `db:"impact"`
	ImpactAt     store.Time `db:"impact_at"`
	NotifiedAt   store.Time `db:"notified_at"`
	LateReason   string     `db:"late_reason"`
	HighRisk     bool       `db:"high_risk"`
	RiskReason   string     `db:"risk_reason"`
	Advice       string     `db:"advice"`
}

// insert stores a newly recorded breach.
func (q breachRows) insert(ctx context.Context, tx *store.Tx, id, actor string, o opening, now time.Time) error {
	_, err := tx.ExecContext(ctx, sqlInsertBreach, id, string(o.scope), strings.Join(o.recipients, ","), store.FormatTime(o.from),
		store.FormatTime(o.to), store.FormatTime(o.aware), o.description, o.consequences, o.measures, actor, store.FormatTime(now))
	return err
}

// get reads one breach; ok is false where there is none.
func (q breachRows) get(ctx context.Context, r sqlx.QueryerContext, id string) (row breachRow, ok bool, err error) {
	err = sqlx.GetContext(ctx, r, &row, sqlGetBreach, id)
	if errors.Is(err, sql.ErrNoRows) {
		return row, false, nil
	}
	return row, err == nil, err
}

// list reads up to limit breaches, the latest awareness first.
func (q breachRows) list(ctx context.Context, limit int) ([]breachRow, error) {
	var rows []breachRow
	err := q.db.Reader.SelectContext(ctx, &rows, sqlListBreaches, limit)
	return rows, err
}

// setImpact stores a breach's impact (figures only, as JSON) as computed
// at at.
func (q breachRows) setImpact(ctx context.Context, tx *store.Tx, id, impact string, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlSetImpact, impact, store.FormatTime(at), id)
	return err
}

// setNotified records the authority's notification once; it reports
// whether it did (false: already recorded).
func (q breachRows) setNotified(ctx context.Context, tx *store.Tx, id string, at time.Time, lateReason string) (bool, error) {
	res, err := tx.ExecContext(ctx, sqlSetNotified, store.FormatTime(at), lateReason, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setRisk records the DPO's decision on the risk to persons.
func (q breachRows) setRisk(ctx context.Context, tx *store.Tx, id string, r Risk) error {
	_, err := tx.ExecContext(ctx, sqlSetRisk, r.High, r.Reason, r.Advice, id)
	return err
}

// unnotified reads when the controller became aware of each breach not
// yet notified to the authority.
func (q breachRows) unnotified(ctx context.Context) ([]store.Time, error) {
	var out []store.Time
	err := q.db.Reader.SelectContext(ctx, &out, sqlUnnotified)
	return out, err
}
