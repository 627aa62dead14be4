package sharing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sqlite"
)

// Dispatcher delivers due webhooks with a pool of workers. Deliveries are
// claimed from the database with a lease: a worker that dies with a claim
// lets it expire and another dispatcher picks it up. Every attempt is
// recorded; results are written in batches to keep the writer free.
type Dispatcher struct {
	DB       *sqlite.DB
	Partners *partners.Store
	Audit    Auditor
	Client   *retryablehttp.Client
	Schedule Schedule
	// Wake signals new work (Outbox.Kicked); nil means poll only.
	Wake <-chan struct{}

	Workers          int           // concurrent requests; default 32
	Timeout          time.Duration // per attempt; default 15s
	RetryAfterCap    time.Duration // longest Retry-After honoured; default 1h
	FailingThreshold time.Duration // continuous failure before an endpoint is disabled; default 120h
	Poll             time.Duration // how often to look for due retries; default 1s
	Now              func() time.Time
	Rand             func() float64
	Logger           *slog.Logger
	Metrics          *Metrics
	// Lifecycle, if set, moves an order to "shared" in the transaction that
	// records the last of its order.created deliveries.
	Lifecycle interface {
		MarkShared(ctx context.Context, tx *sqlx.Tx, orderID string) error
	}

	owner    string
	inflight atomic.Int64
	freed    chan struct{}
	cacheMu  sync.Mutex
	cache    map[string]endpoint
}

type endpoint struct {
	url     string
	secrets []string
	fetched time.Time
}

// result is the outcome of one attempt, or of a claim given back unsent.
type result struct {
	c          claimed
	released   bool
	started    time.Time
	duration   time.Duration
	status     int
	err        string
	body       []byte
	retryAfter string
}

const (
	maxResponseBody = 4 << 10
	claimBatch      = 128
)

func (d *Dispatcher) defaults() {
	d.Workers = cmp.Or(d.Workers, 32)
	d.Timeout = cmp.Or(d.Timeout, 15*time.Second)
	d.RetryAfterCap = cmp.Or(d.RetryAfterCap, time.Hour)
	d.FailingThreshold = cmp.Or(d.FailingThreshold, 120*time.Hour)
	d.Poll = cmp.Or(d.Poll, time.Second)
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Client == nil {
		d.Client = NewClient(false, d.Workers)
	}
	d.owner = NewDeliveryID()
	d.freed = make(chan struct{}, 1)
	d.cache = map[string]endpoint{}
}

func (d *Dispatcher) now() time.Time { return d.Now().UTC().Truncate(time.Microsecond) }

// Run delivers until ctx is cancelled. Requests under way then finish (each
// within its timeout) and are recorded; claims not yet sent are given back.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	jobs := make(chan claimed, d.Workers)
	results := make(chan result, d.Workers*2)
	var workers sync.WaitGroup
	for range d.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for c := range jobs {
				results <- d.attempt(ctx, c)
			}
		}()
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.recordLoop(results)
	}()

	capacity := int64(d.Workers * 2)
	poll := time.NewTicker(d.Poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		free := capacity - d.inflight.Load()
		n := 0
		if free > 0 {
			batch, err := d.claim(ctx, int(min(free, claimBatch)))
			if err != nil && ctx.Err() == nil {
				d.Logger.Error("claim deliveries", "error", err.Error())
			}
			d.inflight.Add(int64(len(batch)))
			for _, c := range batch {
				jobs <- c
			}
			n = len(batch)
		}
		if n > 0 && int64(n) == min(free, claimBatch) {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
		case <-d.Wake:
		case <-d.freed:
		case <-poll.C:
		}
	}
	close(jobs)
	workers.Wait()
	close(results)
	<-recorded
	return nil
}

// claim leases up to limit due deliveries, shared across the enabled
// recipients so that one busy recipient cannot starve another.
func (d *Dispatcher) claim(ctx context.Context, limit int) ([]claimed, error) {
	now := d.now()
	// The lease outlasts the longest an attempt can take (timeout for each
	// in-process try plus their waits), with a margin for recording it.
	lease := now.Add(d.Timeout*time.Duration(d.Client.RetryMax+1) + 5*time.Second)
	var out []claimed
	err := d.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		var ids []string
		if err := tx.SelectContext(ctx, &ids, sqlEnabledRecipients); err != nil {
			return fmt.Errorf("enabled recipients: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		per := max(1, (limit+len(ids)-1)/len(ids))
		for _, id := range ids {
			n := min(per, limit-len(out))
			if n <= 0 {
				break
			}
			var due []string
			if err := tx.SelectContext(ctx, &due, sqlDue, id, sqlite.FormatTime(now), sqlite.FormatTime(now), n); err != nil {
				return fmt.Errorf("claim: %w", err)
			}
			if len(due) == 0 {
				continue
			}
			q, args, err := sqlx.In(sqlLease, d.owner, sqlite.FormatTime(lease), due)
			if err != nil {
				return err
			}
			var batch []claimed
			if err := tx.SelectContext(ctx, &batch, q, args...); err != nil {
				return fmt.Errorf("claim: %w", err)
			}
			out = append(out, batch...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// endpointOf returns the recipient's URL and signing secrets, cached for a
// second so that a rotation or endpoint change takes effect promptly.
func (d *Dispatcher) endpointOf(ctx context.Context, partnerID string) (endpoint, error) {
	d.cacheMu.Lock()
	e, ok := d.cache[partnerID]
	d.cacheMu.Unlock()
	if ok && time.Since(e.fetched) < time.Second {
		return e, nil
	}
	p, err := d.Partners.Get(ctx, partnerID)
	if err != nil {
		return endpoint{}, err
	}
	secrets, err := d.Partners.Secrets(ctx, partnerID)
	if err != nil {
		return endpoint{}, err
	}
	e = endpoint{url: p.EndpointURL, secrets: secrets, fetched: time.Now()}
	d.cacheMu.Lock()
	d.cache[partnerID] = e
	d.cacheMu.Unlock()
	return e, nil
}

// attempt sends one delivery. A request already started is allowed to
// finish during shutdown; one not yet started is given back.
func (d *Dispatcher) attempt(ctx context.Context, c claimed) (r result) {
	if ctx.Err() != nil {
		return result{c: c, released: true}
	}
	r = result{c: c, started: d.now()}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.Timeout)
	defer cancel()
	start := time.Now()
	defer func() { r.duration = time.Since(start) }()

	ep, err := d.endpointOf(actx, c.PartnerID)
	if err != nil {
		r.err = "endpoint lookup failed"
		return r
	}
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodPost, ep.url, c.Payload)
	if err != nil {
		r.err = "invalid endpoint URL"
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "husky-webhooks/1")
	if err := partners.SetHeaders(req.Header, ep.secrets, c.ID, r.started, c.Payload); err != nil {
		r.err = "no signing secret"
		return r
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		r.err = describe(err, actx)
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	r.retryAfter = resp.Header.Get("Retry-After")
	r.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return r
}

// describe turns a transport error into a short message for the attempt
// log. Request URLs hold no personal data; bodies are never included.
func describe(err error, ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

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
