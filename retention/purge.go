package retention

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/tracing"
)

// Purger runs purges: it erases the personal data of every order past its
// retention, everywhere the service holds it, and tells the recipients.
type Purger struct {
	DB         *store.DB
	Orders     *orders.Service
	Holds      *Holds
	Calendar   Calendar
	Outbox     *sharing.Outbox
	Deliveries *sharing.Deliveries
	Audit      *audit.Log
	Clock      base.Clock
	Logger     *slog.Logger
	// Requests deletes the records of completed subject requests past
	// their retention with each run (subjects'); nil: none.
	Requests RequestRecords
	// BatchSize is how many orders one transaction erases; small batches
	// keep the writer free for the API. Default 200.
	BatchSize int

	carrying sync.Map // run id → struct{}: the runs this process carries now
	// Yield is how long the purge rests after each batch, as a share of
	// the time the batch took (default 1: it works at most half the time),
	// so that the API and the dispatcher keep the CPU they need while a
	// large purge runs. A negative value never rests.
	Yield float64
}

// RequestRecords are the records of completed subject requests, kept for
// their own retention and deleted by the purge (subjects.Service).
type RequestRecords interface {
	RequestsDueAsOf(ctx context.Context, asOf time.Time) (RequestsDue, error)
	DeleteRecords(ctx context.Context, actor string, ids []string) (int, error)
}

// Run is a purge run and its evidence.
type Run struct {
	ID         string             `json:"id"`
	AsOf       time.Time          `json:"as_of"`
	Actor      string             `json:"actor"`
	Status     string             `json:"status"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
	Counts     RunCounts          `json:"counts"`
	Digest     string             `json:"digest,omitempty"`
	Error      string             `json:"error,omitempty"`
	OrderIDs   []string           `json:"order_ids"`
	Recipients []RecipientNotices `json:"recipients"`
}

// RunCounts are a run's totals.
type RunCounts struct {
	Orders  int `json:"orders"`
	Erased  int `json:"erased"`
	Held    int `json:"held"`
	Notices int `json:"notices"`
	// Requests counts the completed subject requests whose records the
	// run deleted, their retention over.
	Requests int `json:"subject_requests_deleted"`
}

// RecipientNotices is the state of one recipient's erasure notices for a
// run (GDPR Art. 19): queued, delivered, acknowledged by the recipient's
// order.erasure_confirmed, still pending, or dead.
type RecipientNotices struct {
	PartnerID string `json:"partner_id"`
	sharing.NoticeCounts
	Acknowledged int `json:"acknowledged"`
	// Unanswered counts the orders whose notice arrived and that the
	// recipient has not confirmed erasing: who finance must chase.
	Unanswered int `json:"unanswered"`
}

// ErrRunning is returned when a purge is already running.
var ErrRunning = api.New(http.StatusConflict, "purge_running", "a purge run is already in progress")

// ErrRunNotFound is returned for an unknown run id.
var ErrRunNotFound = api.New(http.StatusNotFound, "purge_run_not_found", "no such purge run")

// rows is the run tables' statements.
func (p *Purger) rows() runRows { return runRows{db: p.DB} }

// Start records a new run as of now. It fails with ErrRunning while
// another run is in progress.
func (p *Purger) Start(ctx context.Context, actor string) (string, error) {
	id := base.NewID("pur_")
	now := p.Clock.Now()
	err := p.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := p.rows().insert(ctx, tx, id, actor, now); err != nil {
			if store.IsUniqueViolation(err) {
				return ErrRunning
			}
			return fmt.Errorf("start purge: %w", err)
		}
		return p.Audit.Record(ctx, tx, actor, "purge.started", map[string]string{"purge_run_id": id},
			map[string]string{"as_of": store.FormatTime(now)})
	})
	return id, err
}

// Resume carries a run to its end, unless this process or another
// already carries it (then it returns nil at once): it snapshots the orders past retention
// as of the run's as_of (idempotently, so a crash mid-snapshot is harmless),
// erases them in batches, records the evidence and checkpoints the
// write-ahead log so nothing erased lingers in it. Running it again on a
// finished run changes nothing.
func (p *Purger) Resume(ctx context.Context, id string) error { return p.carry(ctx, id, false) }

// carry is Resume; interrupted says the run was found left running, which
// is logged once this process takes it up.
func (p *Purger) carry(ctx context.Context, id string, interrupted bool) (err error) {
	ctx, span := tracing.Start(ctx, "purge.run", trace.SpanKindInternal, attribute.String("husky.run_id", id), attribute.Bool("husky.resumed", interrupted))
	defer func() { tracing.End(span, err) }()
	// One carrier per run: this process's, by the map; across the
	// processes on one PostgreSQL database, by a lease their death frees,
	// so a run whose process died is taken up by the leader's next
	// ResumeInterrupted. The run is read once the lease is held: its
	// carrier may just have finished it.
	if _, busy := p.carrying.LoadOrStore(id, struct{}{}); busy {
		return nil
	}
	defer p.carrying.Delete(id)
	lease, err := p.DB.TryLease(ctx, "purge-run:"+id)
	if err != nil {
		return err
	}
	if lease == nil {
		return nil
	}
	defer lease.Release()
	run, ok, err := p.rows().get(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrRunNotFound
	}
	if run.Status != "running" {
		return nil
	}
	if interrupted {
		p.Logger.Info("resuming purge run", "purge_run_id", id)
	}
	err = p.resume(ctx, id, run.Actor, run.AsOf.Time)
	if err != nil && ctx.Err() == nil {
		// A failure is recorded; a cancelled context (shutdown) leaves the
		// run running, to be resumed at the next start.
		_ = p.rows().fail(context.Background(), id, "purge failed; see the service log", p.Clock.Now())
		p.Logger.Error("purge run failed", "purge_run_id", id, "error", err.Error())
	}
	return err
}

func (p *Purger) resume(ctx context.Context, id, actor string, asOf time.Time) error {
	// Snapshot: every order past retention as of the run's start that no
	// legal hold keeps (a hold placed later is honoured batch by batch).
	_, boundary := p.Calendar.LastPurgeable(asOf)
	after := ""
	for {
		page, err := p.Orders.ClosedBetween(ctx, time.Time{}, boundary, after, 1000)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		err = p.DB.Tx(ctx, func(tx *store.Tx) error {
			ids := make([]string, len(page))
			for i, o := range page {
				ids[i] = o.OrderID
			}
			held, err := p.Holds.Among(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, o := range page {
				if held[o.OrderID] {
					continue
				}
				if err := p.rows().addOrder(ctx, tx, id, o.OrderID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		after = page[len(page)-1].OrderID
	}
	if err := p.rows().countOrders(ctx, id); err != nil {
		return fmt.Errorf("count run orders: %w", err)
	}
	// Erase in batches, each its own short transaction.
	batch := cmp.Or(p.BatchSize, 200)
	for {
		ids, err := p.rows().undecided(ctx, id, batch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		start := time.Now()
		if err := p.eraseBatch(ctx, id, actor, ids); err != nil {
			return err
		}
		if err := p.rest(ctx, time.Since(start)); err != nil {
			return err
		}
	}
	return p.finish(ctx, id, actor, asOf)
}

// rest waits Yield times took, or until ctx ends.
func (p *Purger) rest(ctx context.Context, took time.Duration) error {
	y := p.Yield
	if y == 0 {
		y = 1
	}
	if y < 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(took) * y))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *Purger) eraseBatch(ctx context.Context, runID, actor string, ids []string) error {
	notices := 0
	err := p.DB.Tx(ctx, func(tx *store.Tx) error {
		now := p.Clock.Now()
		// A hold placed since the snapshot keeps its order.
		isHeld, err := p.Holds.Among(ctx, tx, ids)
		if err != nil {
			return err
		}
		var erase, held []string
		for _, id := range ids {
			if isHeld[id] {
				held = append(held, id)
			} else {
				erase = append(erase, id)
			}
		}
		res, err := p.Orders.Erase(ctx, tx, actor, erase, now)
		if err != nil {
			return err
		}
		if notices, err = p.Outbox.Erase(ctx, tx, actor, res.Erased); err != nil {
			return err
		}
		for _, part := range []struct {
			outcome string
			ids     []string
		}{{"erased", res.Erased}, {"held", held}, {"already_erased", res.Gone}} {
			if len(part.ids) == 0 {
				continue
			}
			if err := p.rows().decide(ctx, tx, runID, part.outcome, part.ids, now); err != nil {
				return err
			}
		}
		return p.rows().progress(ctx, tx, runID, len(res.Erased), len(held), notices)
	})
	if err != nil {
		return fmt.Errorf("erase batch: %w", err)
	}
	if notices > 0 {
		p.Outbox.Kick()
	}
	return nil
}

// finish records the run's counts and the digest of its order list in the
// run and in the audit trail, then clears the write-ahead log.
func (p *Purger) finish(ctx context.Context, id, actor string, asOf time.Time) error {
	outcomes, ids, err := p.rows().outcomes(ctx, id)
	if err != nil {
		return err
	}
	var erased []string
	held := 0
	for _, oid := range ids {
		switch outcomes[oid] {
		case "erased":
			erased = append(erased, oid)
		case "held":
			held++
		}
	}
	requests, err := p.deleteRequests(ctx, actor, asOf)
	if err != nil {
		return err
	}
	if err := p.clearWAL(ctx); err != nil {
		return err
	}
	digest := Digest(erased)
	notices, err := p.Deliveries.ErasureNotices(ctx, erased)
	if err != nil {
		return err
	}
	total := 0
	for _, c := range notices {
		total += c.Notified
	}
	err = p.DB.Tx(ctx, func(tx *store.Tx) error {
		c := runCounts{Orders: len(ids), Erased: len(erased), Held: held, Notices: total, Digest: digest, Requests: requests}
		if err := p.rows().complete(ctx, tx, id, c, p.Clock.Now()); err != nil {
			return err
		}
		return p.Audit.Record(ctx, tx, actor, "purge.completed", map[string]string{"purge_run_id": id}, map[string]string{
			"as_of": store.FormatTime(asOf), "orders": fmt.Sprint(len(erased)), "digest": digest, "count": fmt.Sprint(total), "subject_requests": fmt.Sprint(requests)})
	})
	if err != nil {
		return err
	}
	_, err = p.Audit.Checkpoint(ctx)
	return err
}

// deleteRequests deletes the records of the completed subject requests
// due as of asOf, and returns how many.
func (p *Purger) deleteRequests(ctx context.Context, actor string, asOf time.Time) (int, error) {
	if p.Requests == nil {
		return 0, nil
	}
	due, err := p.Requests.RequestsDueAsOf(ctx, asOf)
	if err != nil || len(due.Due) == 0 {
		return 0, err
	}
	return p.Requests.DeleteRecords(ctx, actor, due.Due)
}

// clearWAL copies the write-ahead log into the database and truncates it,
// so erased values survive in neither (secure_delete zeroes them in the
// database's own pages). A reader holding an old snapshot can block the
// truncation; it is retried for up to a minute.
func (p *Purger) clearWAL(ctx context.Context) error {
	for i := 0; ; i++ {
		err := p.DB.Checkpoint(ctx)
		if err == nil || !errors.Is(err, store.ErrCheckpointBusy) || i == 600 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Digest is the SHA-256 of the sorted order ids, one per line: finance can
// recompute it from the run's list and find it in the audit trail.
func Digest(orderIDs []string) string {
	ids := append([]string(nil), orderIDs...)
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		io.WriteString(h, id+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PurgeNow starts a run and carries it to its end.
func (p *Purger) PurgeNow(ctx context.Context, actor string) (Run, error) {
	id, err := p.Start(ctx, actor)
	if err != nil {
		return Run{}, err
	}
	if err := p.Resume(ctx, id); err != nil {
		return Run{}, err
	}
	return p.Get(ctx, id)
}

// ResumeInterrupted resumes runs a crash or shutdown left running, and
// any whose process died (on PostgreSQL, another instance's).
func (p *Purger) ResumeInterrupted(ctx context.Context) error {
	ids, err := p.rows().running(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := p.carry(ctx, id, true); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a run with its evidence and the state of its erasure notices.
func (p *Purger) Get(ctx context.Context, id string) (Run, error) { return p.get(ctx, id, true) }

func (p *Purger) get(ctx context.Context, id string, evidence bool) (Run, error) {
	r, ok, err := p.rows().get(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if !ok {
		return Run{}, ErrRunNotFound
	}
	run := Run{ID: r.ID, AsOf: r.AsOf.Time, Actor: r.Actor, Status: r.Status, StartedAt: r.Started.Time,
		Counts: RunCounts{Orders: r.Orders, Erased: r.Erased, Held: r.Held, Notices: r.Notices, Requests: r.Requests}, Digest: r.Digest, Error: r.Error,
		OrderIDs: []string{}, Recipients: []RecipientNotices{}}
	if !r.Finished.IsZero() {
		t := r.Finished.Time
		run.FinishedAt = &t
	}
	if run.Status == "running" || !evidence {
		// Progress only: the evidence (order ids, notices per recipient)
		// is read once the run is done, so that polling a large run
		// while it works does not compete with the API.
		return run, nil
	}
	if run.OrderIDs, err = p.rows().erased(ctx, id); err != nil {
		return Run{}, err
	}
	notices, err := p.Deliveries.ErasureNotices(ctx, run.OrderIDs)
	if err != nil {
		return Run{}, err
	}
	acks, err := p.Orders.ErasureConfirmations(ctx, run.OrderIDs)
	if err != nil {
		return Run{}, err
	}
	for pid, c := range notices {
		run.Recipients = append(run.Recipients, RecipientNotices{PartnerID: pid, NoticeCounts: c, Acknowledged: acks[pid],
			Unanswered: max(c.Delivered-acks[pid], 0)})
	}
	sort.Slice(run.Recipients, func(i, j int) bool { return run.Recipients[i].PartnerID < run.Recipients[j].PartnerID })
	return run, nil
}

// List returns the latest runs, newest first, with their counts (not
// their order lists).
func (p *Purger) List(ctx context.Context, limit int) ([]Run, error) {
	ids, err := p.rows().latest(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(ids))
	for _, id := range ids {
		r, err := p.get(ctx, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteCSV writes the run's evidence: one row per erased order.
func (run Run) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"run_id", "as_of", "status", "digest", "order_id"})
	for _, id := range run.OrderIDs {
		_ = cw.Write([]string{run.ID, run.AsOf.Format(time.RFC3339), run.Status, run.Digest, id})
	}
	cw.Flush()
	return cw.Error()
}
