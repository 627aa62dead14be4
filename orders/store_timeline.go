package orders

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// The statements of what recipients answer about an order
// (order_recipients, callback_receipts) and of its timeline
// (order_events), as methods of orderRows.
const (
	answerColumns = `order_id, partner_id, status, estimated_ship_date, reason_code, message, carrier,
		tracking_number, tracking_url, delivered_at, erasure_confirmed_at, updated_at`
	sqlReceipt       = `SELECT status_code, response FROM callback_receipts WHERE partner_id = $1 AND webhook_id = $2`
	sqlInsertReceipt = `INSERT INTO callback_receipts (partner_id, webhook_id, received_at, event_type, order_id, status_code, response)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	sqlUpsertAnswer = `INSERT INTO order_recipients (order_id, partner_id, status, estimated_ship_date, reason_code, message,
		carrier, tracking_number, tracking_url, delivered_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (order_id, partner_id) DO UPDATE SET status = excluded.status,
			estimated_ship_date = COALESCE(excluded.estimated_ship_date, order_recipients.estimated_ship_date),
			reason_code = COALESCE(excluded.reason_code, order_recipients.reason_code), message = COALESCE(excluded.message, order_recipients.message),
			carrier = COALESCE(excluded.carrier, order_recipients.carrier), tracking_number = COALESCE(excluded.tracking_number, order_recipients.tracking_number),
			tracking_url = COALESCE(excluded.tracking_url, order_recipients.tracking_url), delivered_at = COALESCE(excluded.delivered_at, order_recipients.delivered_at),
			updated_at = excluded.updated_at`
	sqlAnswerStatus    = `SELECT COALESCE(status, '') FROM order_recipients WHERE order_id = $1 AND partner_id = $2`
	sqlErasureAnswered = `INSERT INTO order_recipients (order_id, partner_id, erasure_confirmed_at, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (order_id, partner_id) DO UPDATE SET erasure_confirmed_at = excluded.erasure_confirmed_at, updated_at = excluded.updated_at`
	sqlAnswerText = `SELECT order_id, partner_id, message, carrier, tracking_number, tracking_url FROM order_recipients WHERE order_id = $1`
	sqlSealAnswer = `UPDATE order_recipients SET message = $1, carrier = $2, tracking_number = $3, tracking_url = $4
		WHERE order_id = $5 AND partner_id = $6`

	sqlInsertEvent = `INSERT INTO order_events (order_id, time, type, source, partner_id, from_status, to_status, outcome, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	eventColumns = `id, order_id, time, type, source, COALESCE(partner_id, '') AS partner_id,
		COALESCE(from_status, '') AS from_status, COALESCE(to_status, '') AS to_status, outcome, details`
	sqlEvents    = `SELECT ` + eventColumns + ` FROM order_events WHERE order_id = $1 ORDER BY id`
	sqlConflicts = `SELECT ` + eventColumns + ` FROM order_events
		WHERE outcome = 'conflict' AND ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`
	sqlEventText = `SELECT id, type, COALESCE(partner_id, '') AS partner_id, details FROM order_events WHERE order_id = $1 AND details != '{}'`
	sqlSealEvent = `UPDATE order_events SET details = $1 WHERE id = $2`
)

type receiptRow struct {
	Status int    `db:"status_code"`
	Body   []byte `db:"response"`
}

// receipt returns the first answer to the partner's webhook id, ok false
// when it is new.
func (q orderRows) receipt(ctx context.Context, tx *store.Tx, partnerID, webhookID string) (row receiptRow, ok bool, err error) {
	err = tx.GetContext(ctx, &row, sqlReceipt, partnerID, webhookID)
	if store.IsNoRows(err) {
		return receiptRow{}, false, nil
	}
	return row, err == nil, err
}

// receiptParams is the answer given to a partner's webhook id.
type receiptParams struct {
	PartnerID, WebhookID string
	ReceivedAt           time.Time
	EventType, OrderID   string
	Status               int
	Body                 []byte
}

func (q orderRows) insertReceipt(ctx context.Context, tx *store.Tx, p receiptParams) error {
	_, err := tx.ExecContext(ctx, sqlInsertReceipt, p.PartnerID, p.WebhookID, store.FormatTime(p.ReceivedAt), p.EventType,
		nullIfEmpty(p.OrderID), p.Status, p.Body)
	return err
}

// answers returns the recipients' answers of the orders.
func (q orderRows) answers(ctx context.Context, r sqlx.QueryerContext, ids []string) ([]answerRow, error) {
	var rows []answerRow
	err := sqlx.SelectContext(ctx, r, &rows, statements.For(q.db.Engine).answers, q.db.List(ids))
	return rows, err
}

// answerStatus returns the recipient's furthest status for the order, ""
// when it has answered nothing.
func (q orderRows) answerStatus(ctx context.Context, tx *store.Tx, orderID, partnerID string) (string, error) {
	var st string
	err := tx.GetContext(ctx, &st, sqlAnswerStatus, orderID, partnerID)
	if store.IsNoRows(err) {
		return "", nil
	}
	return st, err
}

// answerParams is a recipient's answer; the free-text values are sealed,
// and nil leaves what was there.
type answerParams struct {
	OrderID, PartnerID                            string
	Status                                        Status
	EstimatedShipDate, ReasonCode                 string
	Message, Carrier, TrackingNumber, TrackingURL any
	DeliveredAt                                   store.Time
	UpdatedAt                                     time.Time
}

func (q orderRows) saveAnswer(ctx context.Context, tx *store.Tx, p answerParams) error {
	_, err := tx.ExecContext(ctx, sqlUpsertAnswer, p.OrderID, p.PartnerID, p.Status, nullIfEmpty(p.EstimatedShipDate),
		nullIfEmpty(p.ReasonCode), p.Message, p.Carrier, p.TrackingNumber, p.TrackingURL, p.DeliveredAt, store.FormatTime(p.UpdatedAt))
	return err
}

// confirmErasure records that the recipient confirmed the order's erasure.
func (q orderRows) confirmErasure(ctx context.Context, tx *store.Tx, orderID, partnerID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, sqlErasureAnswered, orderID, partnerID, store.FormatTime(at))
	return err
}

// erasureConfirmCounts counts, per recipient, the orders whose erasure it
// confirmed.
func (q orderRows) erasureConfirmCounts(ctx context.Context, ids []string) (map[string]int, error) {
	var rows []struct {
		PartnerID string `db:"partner_id"`
		N         int    `db:"n"`
	}
	if err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).erasureConfirms, q.db.List(ids)); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.PartnerID] += r.N
	}
	return out, nil
}

type erasureAck struct {
	OrderID   string     `db:"order_id"`
	PartnerID string     `db:"partner_id"`
	At        store.Time `db:"erasure_confirmed_at"`
}

// erasureAcks returns the confirmed erasures of the orders.
func (q orderRows) erasureAcks(ctx context.Context, ids []string) ([]erasureAck, error) {
	var rows []erasureAck
	err := q.db.Reader.SelectContext(ctx, &rows, statements.For(q.db.Engine).erasureAcks, q.db.List(ids))
	return rows, err
}

type answerText struct {
	OrderID     string  `db:"order_id"`
	PartnerID   string  `db:"partner_id"`
	Message     *string `db:"message"`
	Carrier     *string `db:"carrier"`
	Tracking    *string `db:"tracking_number"`
	TrackingURL *string `db:"tracking_url"`
}

// answerTexts returns the free text of the order's answers.
func (q orderRows) answerTexts(ctx context.Context, tx *store.Tx, orderID string) ([]answerText, error) {
	var rows []answerText
	err := tx.SelectContext(ctx, &rows, sqlAnswerText, orderID)
	return rows, err
}

// sealAnswerParams is an answer's free text, sealed.
type sealAnswerParams struct {
	OrderID, PartnerID                      string
	Message, Carrier, Tracking, TrackingURL any
}

func (q orderRows) sealAnswer(ctx context.Context, tx *store.Tx, p sealAnswerParams) error {
	_, err := tx.ExecContext(ctx, sqlSealAnswer, p.Message, p.Carrier, p.Tracking, p.TrackingURL, p.OrderID, p.PartnerID)
	return err
}

// eventParams is one timeline entry; Details is "{}" or sealed JSON.
type eventParams struct {
	OrderID                                    string
	Time                                       time.Time
	Type, Source, PartnerID, From, To, Outcome string
	Details                                    any
}

// insertEvents appends to the timelines, many rows per statement.
func (q orderRows) insertEvents(ctx context.Context, tx *store.Tx, events []eventParams) error {
	args := make([]any, 0, 9*len(events))
	for _, e := range events {
		args = append(args, e.OrderID, store.FormatTime(e.Time), e.Type, e.Source,
			nullIfEmpty(e.PartnerID), nullIfEmpty(e.From), nullIfEmpty(e.To), e.Outcome, e.Details)
	}
	return store.InsertRows(ctx, tx, sqlInsertEvent, 9, args)
}

// events returns the order's timeline, oldest first.
func (q orderRows) events(ctx context.Context, orderID string) ([]eventRow, error) {
	var rows []eventRow
	err := q.db.Reader.SelectContext(ctx, &rows, sqlEvents, orderID)
	return rows, err
}

// conflicts returns up to limit conflicting events before the event id
// before (0: from the newest), newest first.
func (q orderRows) conflicts(ctx context.Context, tx *store.Tx, before int64, limit int) ([]eventRow, error) {
	var rows []eventRow
	err := tx.SelectContext(ctx, &rows, sqlConflicts, before, limit)
	return rows, err
}

type eventText struct {
	ID        int64  `db:"id"`
	Type      string `db:"type"`
	PartnerID string `db:"partner_id"`
	Details   string `db:"details"`
}

// eventTexts returns the order's timeline entries that hold details.
func (q orderRows) eventTexts(ctx context.Context, tx *store.Tx, orderID string) ([]eventText, error) {
	var rows []eventText
	err := tx.SelectContext(ctx, &rows, sqlEventText, orderID)
	return rows, err
}

func (q orderRows) sealEvent(ctx context.Context, tx *store.Tx, id int64, details any) error {
	_, err := tx.ExecContext(ctx, sqlSealEvent, details, id)
	return err
}
