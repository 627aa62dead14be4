package sharing

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/milestone/husky/store"
)

// record writes a batch of results inside tx, set by set: one query for
// the leases still held, one multi-row insert for the attempts, one update
// for the deliveries that succeeded, and the audit entries appended
// together at commit. Failures, rare and each with its own schedule, are
// written one by one. It returns each result's outcome, and the orders
// now shared with every recipient.
func (d *Dispatcher) record(ctx context.Context, tx *store.Tx, batch []result, now time.Time) (outcomes, shared []string, err error) {
	if len(batch) == 0 {
		return nil, nil, nil
	}
	outcomes = make([]string, len(batch))
	held, err := d.held(ctx, tx, batch)
	if err != nil {
		return nil, nil, err
	}
	var attempts []attemptRow
	var ok []result
	for i, r := range batch {
		switch {
		case r.released:
			if err := d.rows().release(ctx, tx, r.c.ID, d.owner); err != nil {
				return nil, nil, fmt.Errorf("release delivery: %w", err)
			}
			outcomes[i] = "released"
			continue
		case !held[r.c.ID].held:
			// The claim was taken away while the request was under way:
			// the lease expired and another worker took it, a replay
			// restarted it, or a purge erased the order. Then this
			// attempt's result, and any body the receiver echoed, is not
			// recorded.
			outcomes[i] = "lease_lost"
			continue
		}
		var status any
		if r.status != 0 {
			status = r.status
		}
		// The answer to a delivery of an erased order, an erasure notice
		// included, may echo the data back: only its status, duration
		// and error are kept.
		var body []byte
		switch {
		case held[r.c.ID].orderErased:
		case r.c.key != nil:
			body = r.c.key.Seal(r.body, bodyAAD(r.c.ID, r.c.Attempts+1))
		case r.c.OrderID == "":
			// About no order: nothing personal to echo.
			body = r.body
		}
		attempts = append(attempts, attemptRow{DeliveryID: r.c.ID, Attempt: r.c.Attempts + 1, Started: r.started,
			DurationMS: float64(r.duration.Microseconds()) / 1000, HTTPStatus: status, Error: r.err, Body: body})
		if r.status >= 200 && r.status < 300 {
			ok = append(ok, r)
			outcomes[i] = "delivered"
			continue
		}
		if outcomes[i], err = d.recordFailure(ctx, tx, r, now); err != nil {
			return nil, nil, err
		}
	}
	if err := d.rows().insertAttempts(ctx, tx, attempts); err != nil {
		return nil, nil, fmt.Errorf("insert attempts: %w", err)
	}
	if shared, err = d.recordDelivered(ctx, tx, ok, now); err != nil {
		return nil, nil, err
	}
	return outcomes, shared, nil
}

// lease is what held knows of a claim: whether this dispatcher still holds
// it, and whether its order's data was erased meanwhile.
type lease struct{ held, orderErased bool }

// held returns the claims in batch whose lease this dispatcher still holds.
func (d *Dispatcher) held(ctx context.Context, tx *store.Tx, batch []result) (map[string]lease, error) {
	ids := make([]string, 0, len(batch))
	for _, r := range batch {
		if !r.released {
			ids = append(ids, r.c.ID)
		}
	}
	out := make(map[string]lease, len(ids))
	for part := range slices.Chunk(ids, 500) {
		got, err := d.rows().held(ctx, tx, d.owner, part)
		if err != nil {
			return nil, fmt.Errorf("check leases: %w", err)
		}
		for _, g := range got {
			out[g.ID] = lease{held: true, orderErased: g.Erased}
		}
	}
	return out, nil
}

// recordDelivered marks the successful deliveries delivered, clears their
// recipients' failure runs, audits each disclosure, and returns the orders
// whose every order.created has now arrived, to move to "shared" once this
// transaction commits.
func (d *Dispatcher) recordDelivered(ctx context.Context, tx *store.Tx, ok []result, now time.Time) ([]string, error) {
	if len(ok) == 0 {
		return nil, nil
	}
	byStatus := map[int][]string{}
	recipients := map[string]bool{}
	var created []string
	for _, r := range ok {
		byStatus[r.status] = append(byStatus[r.status], r.c.ID)
		recipients[r.c.PartnerID] = true
		if r.c.EventType == EventOrderCreated && r.c.OrderID != "" {
			created = append(created, r.c.OrderID)
		}
	}
	for status, ids := range byStatus {
		for part := range slices.Chunk(ids, 500) {
			if err := d.rows().delivered(ctx, tx, deliveredParams{At: now, Status: status, Owner: d.owner, IDs: part}); err != nil {
				return nil, fmt.Errorf("mark delivered: %w", err)
			}
		}
	}
	for id := range recipients {
		if err := d.rows().healthy(ctx, tx, id); err != nil {
			return nil, fmt.Errorf("mark partner healthy: %w", err)
		}
	}
	for _, r := range ok {
		c := r.c
		action, details := "delivery.delivered", map[string]string{"event": c.EventType, digestDetail(c.key != nil): c.PayloadSHA256,
			"attempt": fmt.Sprint(c.Attempts + 1)}
		if c.Fields != "" {
			action = "disclosure.delivered"
			details["fields"] = c.Fields
			details["legal_basis"] = LegalBasis
			// Where the data went and on what safeguard (Art. 44-46).
			if ep, err := d.endpointOf(ctx, c.PartnerID); err == nil {
				details["country"], details["transfer_basis"] = ep.country, ep.basis
			}
		}
		subjects := map[string]string{"order_id": c.OrderID, "delivery_id": c.ID, "partner_id": c.PartnerID}
		if err := record(ctx, d.Audit, tx, "system:dispatcher", action, subjects, details); err != nil {
			return nil, err
		}
	}
	if d.Lifecycle == nil || len(created) == 0 {
		return nil, nil
	}
	slices.Sort(created)
	shared, err := allDelivered(ctx, d.rows(), tx, slices.Compact(created))
	if err != nil {
		return nil, err
	}
	return shared, nil
}

// recordFailure schedules the next attempt of a delivery that failed,
// kills it when its schedule is spent, and disables an endpoint that
// answered 410 Gone.
func (d *Dispatcher) recordFailure(ctx context.Context, tx *store.Tx, r result, now time.Time) (string, error) {
	c := r.c
	n, step := c.Attempts+1, c.Step+1
	var status any
	if r.status != 0 {
		status = r.status
	}
	subjects := map[string]string{"order_id": c.OrderID, "delivery_id": c.ID, "partner_id": c.PartnerID}
	if r.status == http.StatusGone {
		// The receiver says the endpoint is gone: stop sending to it, keep
		// the delivery, and do not spend its schedule.
		if err := d.disable(ctx, tx, c.PartnerID, "gone"); err != nil {
			return "", err
		}
		if err := d.rows().failed(ctx, tx, failedParams{ID: c.ID, Owner: d.owner, Attempts: n, Step: c.Step, Now: now, Next: now,
			Status: r.status, Error: "410 Gone: endpoint disabled"}); err != nil {
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
		if err := d.rows().failed(ctx, tx, failedParams{ID: c.ID, Owner: d.owner, Attempts: n, Step: step, Now: now, Dead: true,
			Status: status, Error: errText}); err != nil {
			return "", fmt.Errorf("mark dead: %w", err)
		}
		return "dead", record(ctx, d.Audit, tx, "system:dispatcher", "delivery.dead", subjects,
			map[string]string{"event": c.EventType, "attempts": fmt.Sprint(n)})
	}
	if err := d.rows().failed(ctx, tx, failedParams{ID: c.ID, Owner: d.owner, Attempts: n, Step: step, Now: now, Next: now.Add(delay),
		Status: status, Error: errText}); err != nil {
		return "", fmt.Errorf("schedule retry: %w", err)
	}
	return "retry", nil
}

// markFailing starts or continues the recipient's run of failures and
// disables the endpoint once it has lasted longer than the threshold.
func (d *Dispatcher) markFailing(ctx context.Context, tx *store.Tx, partnerID string, now time.Time) error {
	since, err := d.rows().failing(ctx, tx, partnerID, now)
	if err != nil {
		return fmt.Errorf("mark partner failing: %w", err)
	}
	if now.Sub(since) > d.FailingThreshold {
		return d.disable(ctx, tx, partnerID, "failing")
	}
	return nil
}

func (d *Dispatcher) disable(ctx context.Context, tx *store.Tx, partnerID, reason string) error {
	p, err := d.Partners.GetTx(ctx, tx, partnerID)
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
