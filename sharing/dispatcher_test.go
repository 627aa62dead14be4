package sharing

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
	"github.com/milestone/husky/vault"
)

// receiver is a real HTTP server that records what it gets and answers
// with whatever its handler says.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
	calls  atomic.Int64
}

type received struct {
	id     string
	body   []byte
	header http.Header
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(rc.calls.Add(1))
		rc.mu.Lock()
		rc.got = append(rc.got, received{id: r.Header.Get("webhook-id"), body: body, header: r.Header.Clone()})
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

type harness struct {
	db       *store.DB
	clock    *base.FakeClock
	partners *partners.Store
	outbox   *Outbox
	orders   *orders.Service
	deliv    *Deliveries
	vault    *vault.Vault
}

func newHarness(t *testing.T) *harness { return newHarnessTB(t) }

func newHarnessTB(t testing.TB) *harness {
	t.Helper()
	h := &harness{db: storetest.Open(t), clock: &base.FakeClock{}}
	k, err := keyring.Load(filepath.Join(t.TempDir(), "husky.db.keys"))
	if err != nil {
		t.Fatal(err)
	}
	h.partners = &partners.Store{DB: h.db, Clock: h.clock.Now, AllowPrivateEndpoints: true, Sealer: k}
	h.vault = &vault.Vault{DB: h.db, Keyring: k}
	h.outbox = NewOutbox(h.partners, nil, h.clock.Now)
	h.orders = &orders.Service{DB: h.db, Clock: h.clock.Now, Hooks: []orders.Hook{h.outbox}, AfterCommit: func(orders.Change) { h.outbox.Kick() },
		Vault: h.vault, Hash: k.Hash}
	h.deliv = &Deliveries{DB: h.db, Clock: h.clock.Now, Kick: h.outbox.Kick}
	if _, _, err := h.partners.Add(context.Background(), "test", partners.NewPartner{ID: "ptn_reseller", Kind: partners.KindReseller,
		Name: "Reseller"}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) recipient(t *testing.T, url, fields string) (partners.Partner, string) {
	t.Helper()
	return h.recipientFields(t, url, fields)
}

func (h *harness) recipientTB(t testing.TB, url string) (partners.Partner, string) {
	return h.recipientFields(t, url, "")
}

func (h *harness) recipientFields(t testing.TB, url, fields string) (partners.Partner, string) {
	t.Helper()
	p, secret, err := h.partners.Add(context.Background(), "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "R", EndpointURL: url, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return p, secret
}

func (h *harness) dispatcher(schedule ...time.Duration) *Dispatcher {
	if len(schedule) == 0 {
		schedule = Schedule{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	}
	return &Dispatcher{DB: h.db, Partners: h.partners, Vault: h.vault, Schedule: schedule, Wake: h.outbox.Kicked(),
		Client: NewClient(true, 8), Workers: 8, Timeout: 2 * time.Second, Poll: 20 * time.Millisecond,
		Clock: h.clock.Now, Rand: func() float64 { return 0.5 }, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
}

// run starts d and returns a function that stops it and waits.
func run(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func (h *harness) order(t *testing.T, ref string) *orders.Order {
	t.Helper()
	return h.orderTB(t, ref)
}

func (h *harness) orderTB(t testing.TB, ref string) *orders.Order {
	t.Helper()
	body := `{"reference":"` + ref + `","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},
		"ship_to":{"organization":"Example A/S","line1":"Banemarksvej 50","city":"Brøndby","postal_code":"2605","country":"DK"},
		"items":[{"sku":"HE700R-32TB","quantity":2}],"notes":"internal note"}`
	d, err := h.orders.Decode(context.Background(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.orders.Create(context.Background(), orders.CreateRequest{ResellerID: "ptn_reseller", Actor: "test", Draft: d})
	if err != nil {
		t.Fatal(err)
	}
	return c.Order
}

func (h *harness) deliveries(t *testing.T, orderID string) []Delivery {
	t.Helper()
	ds, _, err := h.deliv.List(context.Background(), ListFilter{OrderID: orderID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) status(t *testing.T, id string) Delivery {
	t.Helper()
	d, err := h.deliv.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *harness) attempts(t *testing.T, id string) []Attempt {
	t.Helper()
	as, err := h.deliv.Attempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestOrderAndDeliveriesCommitTogether(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.recipient(t, "http://127.0.0.1:1/a", "")
	h.recipient(t, "http://127.0.0.1:1/b", "phone")
	o := h.order(t, "PO-1")
	ds := h.deliveries(t, o.ID)
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want one per recipient", len(ds))
	}
	// A failure after the outbox wrote rolls everything back.
	h.orders.Hooks = append(h.orders.Hooks, failAfter{})
	body := `{"reference":"PO-2","customer":{"name":"J","email":"j@example.dk","phone":"+4533123456"},"ship_to":{"line1":"x","city":"y","postal_code":"1","country":"DK"},"items":[{"sku":"HE700R-32TB","quantity":1}]}`
	d, _ := h.orders.Decode(context.Background(), []byte(body))
	if _, err := h.orders.Create(context.Background(), orders.CreateRequest{ResellerID: "ptn_reseller", Draft: d}); err == nil {
		t.Fatal("create succeeded")
	}
	var n int
	h.db.Reader.Get(&n, `SELECT COUNT(*) FROM deliveries`)
	if n != 2 {
		t.Errorf("%d deliveries after a failed order, want the first order's 2", n)
	}
}

type failAfter struct{}

func (failAfter) OrderChanged(context.Context, *store.Tx, orders.Change) error {
	return io.ErrUnexpectedEOF
}

func TestDeliversSignedAllowListedPayload(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, nil)
	_, secret := h.recipient(t, rc.srv.URL, "phone,address")
	stop := run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	waitFor(t, "delivery", func() bool { return len(rc.received()) == 1 })
	stop()
	got := rc.received()[0]
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Errorf("reference library refuses the delivery: %v", err)
	}
	body := string(got.body)
	if !strings.Contains(body, o.Customer.Phone) || !strings.Contains(body, "Banemarksvej 50") {
		t.Errorf("allowed fields missing: %s", body)
	}
	for _, leak := range []string{o.Customer.Email, o.Customer.Name, o.Notes, o.Reference} {
		if strings.Contains(body, leak) {
			t.Errorf("payload leaks %q: %s", leak, body)
		}
	}
	ds := h.deliveries(t, o.ID)
	if ds[0].Status != StatusDelivered || ds[0].ID != got.id || ds[0].Attempts != 1 {
		t.Errorf("delivery %+v, webhook-id %s", ds[0], got.id)
	}
	if as := h.attempts(t, ds[0].ID); len(as) != 1 || as[0].HTTPStatus == nil || *as[0].HTTPStatus != 200 {
		t.Errorf("attempts %+v", as)
	}
}

func TestRetriesServerErrorThenDelivers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	waitFor(t, "delivered", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDelivered })
	got := rc.received()
	if len(got) != 2 || got[0].id != got[1].id {
		t.Errorf("want 2 requests with one webhook-id, got %d", len(got))
	}
	as := h.attempts(t, h.deliveries(t, o.ID)[0].ID)
	if len(as) != 2 || *as[0].HTTPStatus != 500 || *as[1].HTTPStatus != 204 {
		t.Errorf("attempts %+v", as)
	}
}

func TestTimeoutIsRecordedAndRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.recipient(t, rc.srv.URL, "")
	d := h.dispatcher()
	d.Timeout = 200 * time.Millisecond
	run(t, d)
	o := h.order(t, "PO-1")
	waitFor(t, "delivered", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDelivered })
	as := h.attempts(t, h.deliveries(t, o.ID)[0].ID)
	if len(as) != 2 || as[0].Error != "timeout" {
		t.Errorf("attempts %+v", as)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	waitFor(t, "first attempt", func() bool { return h.deliveries(t, o.ID)[0].Attempts == 1 })
	d := h.deliveries(t, o.ID)[0]
	wait := d.NextAttemptAt.Sub(h.clock.Now())
	if wait < 110*time.Second || wait > 121*time.Second {
		t.Errorf("next attempt in %v, want about 120s as Retry-After asked", wait)
	}
	time.Sleep(200 * time.Millisecond)
	if n := rc.calls.Load(); n != 1 {
		t.Errorf("%d requests before Retry-After passed", n)
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h.recipient(t, "http://"+addr+"/hook", "")
	run(t, h.dispatcher(time.Hour))
	o := h.order(t, "PO-1")
	waitFor(t, "first attempt", func() bool { return h.deliveries(t, o.ID)[0].Attempts == 1 })
	d := h.deliveries(t, o.ID)[0]
	if d.Status != StatusPending || !strings.Contains(d.LastError, "refused") {
		t.Errorf("delivery %+v", d)
	}
}

func TestGoneDisablesEndpointAndKeepsDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var gone atomic.Bool
	gone.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	p, _ := h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	waitFor(t, "endpoint disabled", func() bool { pp, _ := h.partners.Get(context.Background(), p.ID); return !pp.Enabled })
	h.order(t, "PO-2")
	time.Sleep(150 * time.Millisecond)
	if n := rc.calls.Load(); n != 1 {
		t.Errorf("%d requests to a disabled endpoint", n)
	}
	if d := h.deliveries(t, o.ID)[0]; d.Status != StatusPending {
		t.Errorf("delivery to a gone endpoint is %s, want kept pending", d.Status)
	}
	gone.Store(false)
	if err := h.partners.SetEnabled(context.Background(), "test", p.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	h.outbox.Kick()
	waitFor(t, "both delivered after re-enable", func() bool {
		var n int
		h.db.Reader.Get(&n, `SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'`)
		return n == 2
	})
}

func TestDeadAfterScheduleThenReplayKeepsWebhookID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var up atomic.Bool
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher(20*time.Millisecond, 20*time.Millisecond))
	o := h.order(t, "PO-1")
	waitFor(t, "dead", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDead })
	d := h.deliveries(t, o.ID)[0]
	if d.Attempts != 3 || rc.calls.Load() != 3 {
		t.Errorf("dead after %d attempts (%d calls), want 3 (1 + schedule of 2)", d.Attempts, rc.calls.Load())
	}
	up.Store(true)
	ids, err := h.deliv.ReplayDeadSince(context.Background(), "test", h.clock.Now().Add(-time.Hour))
	if err != nil || len(ids) != 1 || ids[0] != d.ID {
		t.Fatalf("replay: %v %v", ids, err)
	}
	waitFor(t, "delivered after replay", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDelivered })
	for _, r := range rc.received() {
		if r.id != d.ID {
			t.Errorf("webhook-id %s, want %s on every attempt", r.id, d.ID)
		}
	}
	if err := h.deliv.Replay(context.Background(), "test", "msg_nope"); err != ErrDeliveryNotFound {
		t.Errorf("replay unknown: %v", err)
	}
}

// claimedOne is one order for one recipient whose delivery a dispatcher
// has claimed and not sent.
type claimedOne struct {
	h     *harness
	rc    *receiver
	order *orders.Order
	d     *Dispatcher
	c     claimed
}

func claimOne(t *testing.T) claimedOne {
	t.Helper()
	h := newHarness(t)
	rc := newReceiver(t, nil)
	h.recipient(t, rc.srv.URL, "")
	o := h.order(t, "PO-1")
	d := h.dispatcher()
	d.defaults()
	if err := d.beat(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	got, _ := d.turn(context.Background(), nil, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %v, want one delivery", got)
	}
	return claimedOne{h, rc, o, d, got[0]}
}

func TestExpiredLeaseIsPickedUpByAnotherWorker(t *testing.T) {
	t.Parallel()
	// A dispatcher claims the delivery and, still beating, never sends it.
	one := claimOne(t)
	h, rc, o := one.h, one.rc, one.order
	survivor := h.dispatcher()
	run(t, survivor)
	time.Sleep(100 * time.Millisecond)
	if rc.calls.Load() != 0 {
		t.Fatal("a leased delivery was sent while the lease held")
	}
	h.clock.Advance(10 * time.Minute)
	if err := one.d.beat(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered after lease expiry", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDelivered })
}

func TestDeadDispatchersClaimsAreTakenOnceItsHeartbeatIsStale(t *testing.T) {
	t.Parallel()
	// A dispatcher claims the delivery and dies (SIGKILL): its heartbeat
	// stops, its lease has 95 s left.
	one := claimOne(t)
	h, rc, o, dead := one.h, one.rc, one.order, one.d
	if dead.HeartbeatTimeout != 5*time.Second {
		t.Fatalf("default heartbeat timeout %v, want 5s", dead.HeartbeatTimeout)
	}
	if lease := time.Until(one.c.leaseUntil); lease < dead.HeartbeatTimeout+5*time.Second {
		t.Fatalf("lease %v: the test needs it to outlast the heartbeat timeout", lease)
	}
	survivor := h.dispatcher()
	run(t, survivor)
	time.Sleep(300 * time.Millisecond)
	if rc.calls.Load() != 0 {
		t.Fatal("a live dispatcher's claim was taken")
	}
	h.clock.Advance(dead.HeartbeatTimeout + time.Second)
	waitFor(t, "delivered once the owner's heartbeat is stale", func() bool { return h.deliveries(t, o.ID)[0].Status == StatusDelivered })
	if rc.calls.Load() != 1 {
		t.Errorf("%d requests, want 1", rc.calls.Load())
	}
}

func TestClaimWhoseLeaseGrewShortIsGivenBackUnsent(t *testing.T) {
	t.Parallel()
	one := claimOne(t)
	h, rc, o, d := one.h, one.rc, one.order, one.d
	// The claim waited in the queue until too little lease is left for an
	// attempt and its recording.
	h.clock.Advance(d.attemptMax() + time.Second)
	r := d.attempt(context.Background(), one.c)
	if !r.released || rc.calls.Load() != 0 {
		t.Fatalf("attempt on a short lease: released=%v, %d requests sent", r.released, rc.calls.Load())
	}
	if _, outcomes := d.turn(context.Background(), []result{r}, 0); len(outcomes) != 1 || outcomes[0] != "released" {
		t.Fatalf("giving back the claim: outcomes %v", outcomes)
	}
	again, _ := d.turn(context.Background(), nil, 10)
	if len(again) != 1 || again[0].ID != one.c.ID {
		t.Fatalf("the given-back delivery was not claimable again: %v", again)
	}
	if st := h.deliveries(t, o.ID)[0]; st.Attempts != 0 {
		t.Fatalf("a given-back claim counted %d attempts", st.Attempts)
	}
}

func TestLeaseRechecksCandidatesReadBeforeIt(t *testing.T) {
	t.Parallel()
	one := claimOne(t)
	// A second dispatcher read the same candidate before the first leased
	// it; its lease must not take it.
	now := one.h.clock.Now()
	db := one.h.db
	var taken []claimed
	if err := db.Writer.Select(&taken, statements.For(db.Engine).lease, "other-owner", store.FormatTime(now), db.List([]string{one.c.ID}),
		store.FormatTime(now), "other-owner", one.d.staleBefore(now)); err != nil || len(taken) != 0 {
		t.Fatalf("a leased delivery was leased again: %v %v", taken, err)
	}
}

func TestShutdownFinishesClaimedDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	h.recipient(t, rc.srv.URL, "")
	stop := run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	<-started
	stop() // while the request is under way
	if d := h.deliveries(t, o.ID)[0]; d.Status != StatusDelivered {
		t.Errorf("after shutdown the claimed delivery is %s, want delivered", d.Status)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL, http.StatusTemporaryRedirect)
	})
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher(time.Hour))
	o := h.order(t, "PO-1")
	waitFor(t, "attempt", func() bool { return h.deliveries(t, o.ID)[0].Attempts == 1 })
	if target.calls.Load() != 0 || h.deliveries(t, o.ID)[0].Status != StatusPending {
		t.Error("redirect followed")
	}
}

func TestDialerRefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, nil)
	h.recipient(t, rc.srv.URL, "")
	d := h.dispatcher(time.Hour)
	d.Client = NewClient(false, 4)
	run(t, d)
	o := h.order(t, "PO-1")
	waitFor(t, "attempt", func() bool { return h.deliveries(t, o.ID)[0].Attempts == 1 })
	if rc.calls.Load() != 0 {
		t.Fatal("the dispatcher reached a loopback endpoint")
	}
	if e := h.deliveries(t, o.ID)[0].LastError; !strings.Contains(e, "forbidden address") {
		t.Errorf("last error %q", e)
	}
}

func TestContinuouslyFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	p, _ := h.recipient(t, rc.srv.URL, "")
	d := h.dispatcher(10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
	d.FailingThreshold = time.Hour
	run(t, d)
	h.order(t, "PO-1")
	// The failing run starts when the first failure is recorded, not when
	// it is sent: the clock moves only after that (moved between the two,
	// the run would start two hours late, and the test once timed out).
	waitFor(t, "first failure recorded", func() bool {
		health, err := h.deliv.Health(context.Background())
		return err == nil && !health[p.ID].IsZero()
	})
	h.clock.Advance(2 * time.Hour)
	waitFor(t, "endpoint disabled", func() bool { pp, _ := h.partners.Get(context.Background(), p.ID); return !pp.Enabled })
	pp, _ := h.partners.Get(context.Background(), p.ID)
	if pp.DisabledReason != "failing" {
		t.Errorf("reason %q", pp.DisabledReason)
	}
}

func TestCancelNotifiesRecipientsThatReceivedTheOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, nil)
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	if _, err := h.orders.Cancel(context.Background(), "ptn_reseller", "test", o.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two deliveries", func() bool { return len(rc.received()) == 2 })
	var types []string
	for _, r := range rc.received() {
		types = append(types, strings.Split(strings.Split(string(r.body), `"type":"`)[1], `"`)[0])
	}
	if !strings.Contains(strings.Join(types, ","), EventOrderCancelled) {
		t.Errorf("types %v", types)
	}
	if strings.Contains(string(rc.received()[1].body), "jane") && strings.Contains(string(rc.received()[1].body), EventOrderCancelled) {
		t.Error("order.cancelled carries personal data")
	}
}

func TestScheduleNextAndJitter(t *testing.T) {
	t.Parallel()
	s := Schedule{time.Second, time.Minute}
	tests := []struct {
		name string
		n    int
		rnd  float64
		want time.Duration
		ok   bool
	}{
		{"first_retry_low_jitter", 1, 0, 800 * time.Millisecond, true},
		{"first_retry_no_jitter", 1, 0.5, time.Second, true},
		{"second_retry_high_jitter", 2, 0.999999, 72 * time.Second, true},
		{"exhausted_is_dead", 3, 0.5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.Next(tt.n, func() float64 { return tt.rnd })
			if ok != tt.ok || (got-tt.want).Abs() > time.Millisecond {
				t.Errorf("Next(%d) = %v, %v; want %v, %v", tt.n, got, ok, tt.want, tt.ok)
			}
		})
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{"30": 30 * time.Second, "99999": time.Hour, "Thu, 01 Jan 2026 00:02:00 GMT": 2 * time.Minute} {
		if got, ok := RetryAfter(h, now, time.Hour); !ok || got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	if _, ok := RetryAfter("soon", now, time.Hour); ok {
		t.Error("malformed Retry-After accepted")
	}
	if _, err := ParseSchedule("5s,-1m"); err == nil {
		t.Error("negative delay accepted")
	}
	if s, err := ParseSchedule("5s,5m,30m,2h,5h,10h,10h,24h,24h"); err != nil || len(s) != 9 {
		t.Errorf("default schedule: %v %v", s, err)
	}
}

func TestPurgeDuringDeliveryRecordsNoEchoedBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	started, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"echo":"jane@example.dk"}`))
	})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the receiver closes, which waits for its handler
	h.recipient(t, rc.srv.URL, "")
	stop := run(t, h.dispatcher())
	o := h.order(t, "PO-1")
	<-started
	// The order is erased while its delivery is under way.
	err := h.db.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := h.outbox.Erase(context.Background(), tx, "test", []string{o.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	let()
	stop()
	var bodies int
	h.db.Reader.Get(&bodies, `SELECT COUNT(*) FROM delivery_attempts WHERE response_body IS NOT NULL`)
	if bodies != 0 {
		t.Errorf("%d answer bodies recorded for an erased order", bodies)
	}
	var created, erased int
	h.db.Reader.Get(&created, `SELECT COUNT(*) FROM deliveries WHERE event_type = 'order.created' AND status = 'dead'`)
	h.db.Reader.Get(&erased, `SELECT COUNT(*) FROM deliveries WHERE event_type = 'order.erased'`)
	if created != 1 || erased != 1 {
		t.Errorf("order.created dead: %d, order.erased queued: %d; want 1 and 1 (the recipient may hold the data)", created, erased)
	}
}

func TestMessagesAboutAnOrderArriveInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 { // the first order.created fails once
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.recipient(t, rc.srv.URL, "")
	run(t, h.dispatcher(300*time.Millisecond, 300*time.Millisecond))
	o := h.order(t, "PO-1")
	if _, err := h.orders.Cancel(context.Background(), "ptn_reseller", "test", o.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three requests", func() bool { return rc.calls.Load() == 3 })
	var types []string
	for _, r := range rc.received() {
		var env Envelope
		json.Unmarshal(r.body, &env)
		types = append(types, env.Type)
	}
	want := []string{EventOrderCreated, EventOrderCreated, EventOrderCancelled}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("arrivals %v, want %v: order.cancelled must wait for order.created", types, want)
	}
}

func TestRecipientsAreReadAfreshInEachTransaction(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rc := newReceiver(t, nil)
	h.recipient(t, rc.srv.URL, "")
	first := h.order(t, "PO-1")
	h.recipient(t, rc.srv.URL, "") // a second recipient, added between orders
	second := h.order(t, "PO-2")
	if n1, n2 := len(h.deliveries(t, first.ID)), len(h.deliveries(t, second.ID)); n1 != 1 || n2 != 2 {
		t.Fatalf("deliveries: first order %d (want 1), second %d (want 2)", n1, n2)
	}
}
