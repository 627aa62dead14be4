package sharing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
	"github.com/milestone/husky/vault"
)

// Dispatcher delivers due webhooks with a pool of workers. Deliveries are
// claimed from the database with a lease: a worker that dies with a claim
// lets it expire and another dispatcher picks it up. Every attempt is
// recorded; one transaction per turn records the finished attempts and
// claims more (see Run), so the dispatcher holds the writer briefly.
type Dispatcher struct {
	DB       *store.DB
	Partners *partners.Store
	Audit    audit.Recorder
	Client   *retryablehttp.Client
	Schedule Schedule
	// Wake signals new work (Outbox.Kicked); nil means poll only.
	Wake <-chan struct{}

	Workers          int           // concurrent requests; default 32
	Timeout          time.Duration // per attempt; default 15s
	RetryAfterCap    time.Duration // longest Retry-After honoured; default 1h
	FailingThreshold time.Duration // continuous failure before an endpoint is disabled; default 120h
	Poll             time.Duration // how often to look for due retries; default 1s
	// HeartbeatEvery is how often the dispatcher marks itself alive
	// (default 1s); HeartbeatTimeout how long another waits before it
	// takes a silent dispatcher's claims (default 5s).
	HeartbeatEvery   time.Duration
	HeartbeatTimeout time.Duration
	Clock            base.Clock
	Rand             func() float64
	Logger           *slog.Logger
	Metrics          *Metrics
	// Vault opens the payloads sealed with their order's data key.
	Vault *vault.Vault
	// Lifecycle, if set, moves orders to "shared" once the last of their
	// order.created deliveries is recorded (see shared.go).
	Lifecycle interface {
		MarkShared(ctx context.Context, orderIDs []string) error
	}

	owner    string
	claiming claiming
	shared   sharedQueue
	cacheMu  sync.Mutex
	cache    map[string]endpoint
}

type endpoint struct {
	url            string
	secrets        []string
	country, basis string
	fetched        time.Time
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
	// maxRecordBatch is the most results one turn records.
	maxRecordBatch = 1024
)

// claiming is how the dispatcher claims on one engine, chosen when it
// starts (see claimings).
type claiming struct {
	// batch is the most deliveries one turn leases.
	batch int
	// perWorker sets how many claims are in flight per worker; more in
	// flight makes each turn larger.
	perWorker int
	// sideBySide records a turn's results and leases its claims in two
	// transactions at once (turnSideBySide), where transactions can run
	// side by side; else in one.
	sideBySide bool
}

var claimings = store.PerEngine[claiming]{
	// In make bench (three paired runs, deliveries/s), claims per worker:
	// 16, 13,300; 32, 14,400; 64, 14,300.
	SQLite: claiming{batch: 512, perWorker: 32},
	// A turn's statements are round trips and its two commits wait for
	// the server's flush, so larger turns pay: with 64 claims per worker
	// and 1,024 a turn, 5,665 and 5,872 deliveries/s against 5,008 and
	// 4,016 with SQLite's 32 and 512, alternated in one sitting (2,048 a
	// turn: 4,517).
	PostgreSQL: claiming{batch: 1024, perWorker: 64, sideBySide: true},
}

func (d *Dispatcher) defaults() {
	d.Workers = cmp.Or(d.Workers, 32)
	d.Timeout = cmp.Or(d.Timeout, 15*time.Second)
	d.RetryAfterCap = cmp.Or(d.RetryAfterCap, time.Hour)
	d.FailingThreshold = cmp.Or(d.FailingThreshold, 120*time.Hour)
	d.Poll = cmp.Or(d.Poll, time.Second)
	d.HeartbeatEvery = cmp.Or(d.HeartbeatEvery, time.Second)
	d.HeartbeatTimeout = cmp.Or(d.HeartbeatTimeout, 5*time.Second)
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Client == nil {
		d.Client = NewClient(false, d.Workers)
	}
	d.owner = NewDeliveryID()
	d.cache = map[string]endpoint{}
	d.claiming = *claimings.For(d.DB.Engine)
}

// Run delivers until ctx is cancelled. Requests under way then finish (each
// within its timeout) and are recorded; claims not yet sent are given back.
//
// One loop drives the writer: each turn is one transaction that records the
// results the workers have finished since the last turn and leases due
// deliveries for the room they left. Claims and results never queue for the
// writer behind each other, and each turn commits once.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	// Its id is the lease owner of its claims and its heartbeat's row.
	d.Logger.Info("dispatcher started", "dispatcher_id", d.owner)
	if err := d.beat(ctx, true); err != nil {
		d.Logger.Error("dispatcher heartbeat", "error", err.Error())
	}
	// The heartbeats and the moves to shared outlive ctx: they end once
	// the last results are recorded.
	aside, stopAside := context.WithCancel(context.WithoutCancel(ctx))
	beside := base.Group{Logger: d.Logger}
	beside.Loop(aside, d.heartbeats())
	d.shared.wake = make(chan struct{}, 1)
	beside.Go(aside, d.moveShared)
	defer func() { stopAside(); beside.Wait(); d.endHeartbeat() }()
	// Claims in flight: enough queued behind the workers that they never
	// wait for the next turn, with room in both queues for all of them, so
	// neither a worker nor the loop ever blocks on the other.
	batchMax := d.claiming.batch
	capacity := d.Workers * d.claiming.perWorker
	jobs := make(chan claimed, capacity)
	results := make(chan result, capacity)
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
	poll := time.NewTicker(d.Poll)
	defer poll.Stop()
	inflight := 0 // claimed and not yet recorded
	var batch []result
	for {
		batch = drain(results, batch, maxRecordBatch)
		room := 0
		if ctx.Err() == nil {
			room = min(capacity-inflight+len(batch), batchMax)
		}
		claims, outcomes := d.turn(ctx, batch, room)
		inflight += len(claims) - len(batch)
		for _, c := range claims {
			jobs <- c // never blocks: jobs has room for every claim in flight
		}
		if outcomes != nil {
			for i, r := range batch {
				d.logAttempt(r, outcomes[i])
			}
		}
		busy := len(batch) > 0 || (room > 0 && len(claims) == room)
		batch = batch[:0]
		if ctx.Err() != nil {
			if inflight == 0 {
				break
			}
			// Shutting down: wait for what is still under way.
			batch = append(batch, <-results)
			continue
		}
		if busy {
			continue
		}
		select {
		case r := <-results:
			batch = append(batch, r)
		case <-ctx.Done():
		case <-d.Wake:
		case <-poll.C:
		}
	}
	close(jobs)
	workers.Wait()
	return nil
}

// drain appends to batch the results already waiting, up to max in all.
func drain(results <-chan result, batch []result, max int) []result {
	for len(batch) < max {
		select {
		case r := <-results:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// turn records batch and leases up to room due deliveries, in one
// transaction. Due deliveries are found on the read pool first, so a turn
// with nothing to record and nothing due does not take the writer from the
// API. It returns the new claims and each result's outcome (nil if the
// results could not be recorded: their leases then expire and they are
// sent again, at least once and never lost).
func (d *Dispatcher) turn(ctx context.Context, batch []result, room int) ([]claimed, []string) {
	now := d.Clock.Now()
	var due []string
	if room > 0 {
		var err error
		if due, err = d.due(ctx, now, room); err != nil && ctx.Err() == nil {
			d.Logger.Error("find due deliveries", "error", err.Error())
		}
	}
	if len(batch) == 0 && len(due) == 0 {
		return nil, nil
	}
	var claims []claimed
	var outcomes, shared []string
	// Recording must survive shutdown: the requests already happened.
	wctx := context.WithoutCancel(ctx)
	if d.claiming.sideBySide {
		return d.turnSideBySide(wctx, batch, due, now)
	}
	err := d.DB.Tx(wctx, func(tx *store.Tx) error {
		var err error
		if outcomes, shared, err = d.record(wctx, tx, batch, now); err != nil {
			return err
		}
		if claims, err = d.lease(wctx, tx, due, now); err != nil {
			return err
		}
		return d.unlock(wctx, tx, claims)
	})
	if err != nil {
		d.Logger.Error("record delivery attempts and claim more", "error", err.Error(), "count", len(batch))
		return nil, nil
	}
	d.noteShared(shared)
	return claims, outcomes
}

// turnSideBySide is a turn on PostgreSQL, where transactions run side by
// side (claiming.sideBySide): the results are recorded in one transaction while the next claims
// are leased in another, so that the round trips of the two overlap
// instead of adding up (measured: the turn was what kept the workers
// waiting). Neither waits for the other: the claims are rows nobody
// leases, the results rows this dispatcher does, and a message whose
// predecessor is being recorded just waits for the next turn. Each can
// fail alone: failed results are sent again when their leases run out.
func (d *Dispatcher) turnSideBySide(ctx context.Context, batch []result, due []string, now time.Time) ([]claimed, []string) {
	var outcomes, shared []string
	recorded := make(chan error, 1)
	go func() {
		if len(batch) == 0 {
			recorded <- nil
			return
		}
		recorded <- d.DB.Tx(ctx, func(tx *store.Tx) error {
			var err error
			outcomes, shared, err = d.record(ctx, tx, batch, now)
			return err
		})
	}()
	var claims []claimed
	if len(due) > 0 {
		err := d.DB.Tx(ctx, func(tx *store.Tx) error {
			var err error
			if claims, err = d.lease(ctx, tx, due, now); err != nil {
				return err
			}
			return d.unlock(ctx, tx, claims)
		})
		if err != nil {
			d.Logger.Error("claim deliveries", "error", err.Error(), "count", len(due))
			claims = nil
		}
	}
	if err := <-recorded; err != nil {
		d.Logger.Error("record delivery attempts", "error", err.Error(), "count", len(batch))
		return claims, nil
	}
	d.noteShared(shared)
	return claims, outcomes
}

// due returns up to limit deliveries due at now, shared across the enabled
// recipients so that one busy recipient cannot starve another. It reads
// the read pool: a candidate may have been leased, delivered or overtaken
// by a replay since, and lease checks each again.
func (d *Dispatcher) due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := d.Partners.Deliverable(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	per := max(1, (limit+len(ids)-1)/len(ids))
	var due []string
	for _, id := range ids {
		n := min(per, limit-len(due))
		if n <= 0 {
			break
		}
		some, err := d.rows().due(ctx, dueParams{PartnerID: id, Now: now, StaleBefore: d.staleBefore(now), Owner: d.owner, Limit: n})
		if err != nil {
			return nil, fmt.Errorf("find due deliveries: %w", err)
		}
		due = append(due, some...)
	}
	return due, nil
}

// lease claims those of ids that are still due, inside tx.
func (d *Dispatcher) lease(ctx context.Context, tx *store.Tx, ids []string, now time.Time) ([]claimed, error) {
	// A claim may wait in the queue for about one attempt's length before a
	// worker takes it, then needs the longest an attempt can take, and a
	// margin for recording it. attempt gives back a claim whose lease has
	// grown too short, so a lease never runs out while a request is under
	// way (another dispatcher would send it a second time).
	until := now.Add(2*d.attemptMax() + 5*time.Second)
	var out []claimed
	for part := range slices.Chunk(ids, 500) {
		batch, err := d.rows().lease(ctx, tx, leaseParams{Owner: d.owner, Until: until, Now: now, StaleBefore: d.staleBefore(now), IDs: part})
		if err != nil {
			return nil, fmt.Errorf("lease deliveries: %w", err)
		}
		out = append(out, batch...)
	}
	for i := range out {
		out[i].leaseUntil = until
	}
	return out, nil
}

// unlock gives each claim its order's data key, read for the whole turn in
// one query: it opens a sealed payload, and seals whatever the recipient
// answers (an answer may echo personal data, even to an ids-only message).
func (d *Dispatcher) unlock(ctx context.Context, tx *store.Tx, claims []claimed) error {
	if d.Vault == nil {
		return nil
	}
	var ids []string
	for _, c := range claims {
		if c.OrderID != "" {
			ids = append(ids, c.OrderID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	keys, err := d.Vault.GetMany(ctx, tx, ids)
	if err != nil {
		return err
	}
	for i := range claims {
		claims[i].key = keys[claims[i].OrderID]
	}
	return nil
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
	e = endpoint{url: p.EndpointURL, secrets: secrets, country: p.Country, basis: string(p.TransferBasis), fetched: time.Now()}
	d.cacheMu.Lock()
	d.cache[partnerID] = e
	d.cacheMu.Unlock()
	return e, nil
}

// attemptMax is the longest one attempt can take: the timeout for each
// in-process try.
func (d *Dispatcher) attemptMax() time.Duration {
	return d.Timeout * time.Duration(d.Client.RetryMax+1)
}

// attempt sends one delivery. A request already started is allowed to
// finish during shutdown; one not yet started, or whose lease has grown
// too short while it waited, is given back.
func (d *Dispatcher) attempt(ctx context.Context, c claimed) (r result) {
	if ctx.Err() != nil || c.leaseUntil.Sub(d.Clock.Now()) < d.attemptMax()+5*time.Second {
		return result{c: c, released: true}
	}
	r = result{c: c, started: d.Clock.Now()}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.Timeout)
	defer cancel()
	// Each attempt is a client span, a child of the work that queued the
	// delivery (the reseller's order request, a subject request, a
	// purge), even days later; the webhook carries it on.
	actx, span := tracing.Start(tracing.Continue(actx, c.TraceParent), "webhook "+c.EventType, trace.SpanKindClient,
		attribute.String("husky.delivery_id", c.ID), attribute.String("husky.partner_id", c.PartnerID),
		attribute.String("husky.order_id", c.OrderID), attribute.String("husky.event", c.EventType),
		attribute.Int("husky.attempt", c.Attempts+1))
	start := time.Now()
	defer func() {
		r.duration = time.Since(start)
		endAttempt(span, r)
	}()

	ep, err := d.endpointOf(actx, c.PartnerID)
	if err != nil {
		r.err = "endpoint lookup failed"
		return r
	}
	// A payload about an order's data is sealed with the order's key and
	// bound to its delivery; one that is not (a plain body put in its
	// place, or one sealed for another delivery) is never sent.
	body := c.Payload
	if vault.IsSealed(body) || (c.OrderID != "" && !slices.Contains(idsOnlyEvents, c.EventType)) {
		if c.key == nil {
			r.err = "the payload's data key is gone"
			return r
		}
		if body, err = c.key.Open(body, payloadAAD(c.ID)); err != nil {
			r.err = "the payload does not open"
			return r
		}
	}
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodPost, ep.url, body)
	if err != nil {
		r.err = "invalid endpoint URL"
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "husky-webhooks/1")
	tracing.Inject(actx, req.Header)
	if err := partners.SetHeaders(req.Header, ep.secrets, c.ID, r.started, body); err != nil {
		r.err = "no signing secret"
		return r
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		r.err = describe(actx, err, ep.url)
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	r.retryAfter = resp.Header.Get("Retry-After")
	r.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return r
}

// endAttempt ends an attempt's span with its outcome: the status the
// recipient answered, or that no answer came. The error's text, which
// names the endpoint, stays in the attempt log.
func endAttempt(span trace.Span, r result) {
	switch {
	case r.status != 0:
		span.SetAttributes(attribute.Int("http.response.status_code", r.status))
		if r.status < 200 || r.status > 299 {
			span.SetStatus(codes.Error, "the recipient answered "+strconv.Itoa(r.status))
		}
	case r.err != "":
		span.SetStatus(codes.Error, "no answer")
	}
	span.End()
}

// describe turns a transport error into a short message for the attempt
// log, which also lands in last_error and the service log. The endpoint's
// query string (often a receiver's token) is redacted; bodies are never
// included.
func describe(ctx context.Context, err error, endpoint string) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	return partners.RedactError(err, endpoint)
}
