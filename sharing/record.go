package sharing

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/sqlite"
)

// recordLoop records what the workers did: one short transaction per batch
// of results, with each delivery's new state, its attempt, the partner's
// health and the audit entries. Batching keeps the single writer free.
func (d *Dispatcher) recordLoop(results <-chan result) {
	for r := range results {
		batch := []result{r}
	drain:
		for len(batch) < 256 {
			select {
			case r2, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, r2)
			default:
				break drain
			}
		}
		// Recording must survive shutdown: the requests already happened.
		if err := d.recordBatch(context.Background(), batch); err != nil {
			// The leases expire and the deliveries are sent again:
			// at-least-once, never lost.
			d.Logger.Error("record delivery attempts", "error", err.Error(), "count", len(batch))
		}
		d.inflight.Add(-int64(len(batch)))
		select {
		case d.freed <- struct{}{}:
		default:
		}
	}
}

func (d *Dispatcher) recordBatch(ctx context.Context, batch []result) error {
	now := d.now()
	var logs []func()
	err := d.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		logs = logs[:0]
		for _, r := range batch {
			outcome, err := d.recordOne(ctx, tx, r, now)
			if err != nil {
				return err
			}
			logs = append(logs, func() { d.logAttempt(r, outcome) })
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range logs {
		l()
	}
	return nil
}

func (d *Dispatcher) recordOne(ctx context.Context, tx *sqlx.Tx, r result, now time.Time) (string, error) {
	c := r.c
	if r.released {
		if _, err := tx.ExecContext(ctx, sqlRelease, c.ID, d.owner); err != nil {
			return "", fmt.Errorf("release delivery: %w", err)
		}
		return "released", nil
	}
	// The claim may have been taken away while the request was under way:
	// the lease expired and another worker took it, a replay restarted it,
	// or a purge erased the order. Then this attempt's result, and any body
	// the receiver echoed, is not recorded.
	var held int
	if err := tx.GetContext(ctx, &held, sqlHeld, c.ID, d.owner); err != nil {
		return "", fmt.Errorf("check lease: %w", err)
	}
	if held == 0 {
		return "lease_lost", nil
	}
	n, step := c.Attempts+1, c.Step+1
	var status any
	if r.status != 0 {
		status = r.status
	}
	if _, err := tx.ExecContext(ctx, sqlInsertAttempt, c.ID, n, sqlite.FormatTime(r.started),
		float64(r.duration.Microseconds())/1000, status, r.err, r.body); err != nil {
		return "", fmt.Errorf("insert attempt: %w", err)
	}
	subjects := map[string]string{"order_id": c.OrderID, "delivery_id": c.ID, "partner_id": c.PartnerID}
	switch {
	case r.status >= 200 && r.status < 300:
		if _, err := tx.ExecContext(ctx, sqlDelivered, n, step, sqlite.FormatTime(now), sqlite.FormatTime(now), r.status, c.ID, d.owner); err != nil {
			return "", fmt.Errorf("mark delivered: %w", err)
		}
		if _, err := tx.ExecContext(ctx, sqlPartnerHealthy, c.PartnerID); err != nil {
			return "", fmt.Errorf("mark partner healthy: %w", err)
		}
		action, details := "delivery.delivered", map[string]string{"event": c.EventType, "payload_sha256": c.PayloadSHA256, "attempt": fmt.Sprint(n)}
		if c.Fields != "" {
			action = "disclosure.delivered"
			details["fields"] = c.Fields
			details["legal_basis"] = LegalBasis
		}
		if err := record(ctx, d.Audit, tx, "system:dispatcher", action, subjects, details); err != nil {
			return "", err
		}
		if d.Lifecycle != nil && c.EventType == EventOrderCreated {
			var left int
			if err := tx.GetContext(ctx, &left, sqlUndelivered, c.OrderID, EventOrderCreated); err != nil {
				return "", fmt.Errorf("count undelivered: %w", err)
			}
			if left == 0 {
				if err := d.Lifecycle.MarkShared(ctx, tx, c.OrderID); err != nil {
					return "", err
				}
			}
		}
		return "delivered", nil
	case r.status == http.StatusGone:
		// The receiver says the endpoint is gone: stop sending to it, keep
		// the delivery, and do not spend its schedule.
		if err := d.disable(ctx, tx, c.PartnerID, "gone"); err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, sqlRetry, n, c.Step, sqlite.FormatTime(now), sqlite.FormatTime(now), r.status, "410 Gone: endpoint disabled", c.ID, d.owner); err != nil {
			return "", fmt.Errorf("requeue delivery: %w", err)
		}
		return "gone", nil
	}
	errText := r.err
	if errText == "" {
		errText = fmt.Sprintf("HTTP %d", r.status)
	}
	if err := d.markFailing(ctx, tx, c.PartnerID, now); err != nil {
		return "", err
	}
	delay, ok := d.Schedule.Next(step, d.Rand)
	if ok && (r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable) {
		if ra, has := RetryAfter(r.retryAfter, now, d.RetryAfterCap); has {
			delay = ra
		}
	}
	if !ok {
		if _, err := tx.ExecContext(ctx, sqlDead, n, step, sqlite.FormatTime(now), sqlite.FormatTime(now), status, errText, c.ID, d.owner); err != nil {
			return "", fmt.Errorf("mark dead: %w", err)
		}
		return "dead", record(ctx, d.Audit, tx, "system:dispatcher", "delivery.dead", subjects,
			map[string]string{"event": c.EventType, "attempts": fmt.Sprint(n)})
	}
	if _, err := tx.ExecContext(ctx, sqlRetry, n, step, sqlite.FormatTime(now.Add(delay)), sqlite.FormatTime(now), status, errText, c.ID, d.owner); err != nil {
		return "", fmt.Errorf("schedule retry: %w", err)
	}
	return "retry", nil
}

// markFailing starts or continues the recipient's run of failures and
// disables the endpoint once it has lasted longer than the threshold.
func (d *Dispatcher) markFailing(ctx context.Context, tx *sqlx.Tx, partnerID string, now time.Time) error {
	var r struct {
		Since   sqlite.Time `db:"failing_since"`
		Enabled bool        `db:"enabled"`
	}
	if err := tx.GetContext(ctx, &r, sqlPartnerFailing, sqlite.FormatTime(now), partnerID); err != nil {
		return fmt.Errorf("mark partner failing: %w", err)
	}
	if r.Enabled && now.Sub(r.Since.Time) > d.FailingThreshold {
		return d.disable(ctx, tx, partnerID, "failing")
	}
	return nil
}

func (d *Dispatcher) disable(ctx context.Context, tx *sqlx.Tx, partnerID, reason string) error {
	p, err := d.Partners.Get(ctx, partnerID)
	if err != nil || !p.Enabled {
		return err
	}
	d.Logger.Warn("endpoint disabled", "partner_id", partnerID, "reason", reason)
	return d.Partners.SetEnabledTx(ctx, tx, "system:dispatcher", partnerID, false, reason)
}

func (d *Dispatcher) logAttempt(r result, outcome string) {
	if d.Metrics != nil {
		d.Metrics.Outcomes.WithLabelValues(outcome).Inc()
		if !r.released {
			d.Metrics.Duration.Observe(r.duration.Seconds())
		}
	}
	if r.released {
		return
	}
	attrs := []any{"delivery_id", r.c.ID, "partner_id", r.c.PartnerID, "order_id", r.c.OrderID, "event", r.c.EventType,
		"attempt", r.c.Attempts + 1, "outcome", outcome, "duration_ms", float64(r.duration.Microseconds()) / 1000}
	if r.status != 0 {
		attrs = append(attrs, "http_status", r.status)
	}
	if r.err != "" {
		attrs = append(attrs, "error", r.err)
	}
	d.Logger.Info("delivery attempt", attrs...)
}
