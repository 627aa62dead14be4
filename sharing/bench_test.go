package sharing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/store"
)

// BenchmarkDispatch measures deliveries per second to a loopback receiver
// that answers 200 at once: claimed, signed, sent and recorded.
func BenchmarkDispatch(b *testing.B) { benchDispatch(b, false) }

// BenchmarkDispatchAudited is BenchmarkDispatch with the audit trail and
// the order lifecycle wired as in production.
func BenchmarkDispatchAudited(b *testing.B) { benchDispatch(b, true) }

func benchDispatch(b *testing.B, audited bool) {
	srv, got := countingReceiver(b)
	h := newHarnessTB(b)
	p, _ := h.recipientTB(b, srv.URL)
	ctx := context.Background()
	o := h.orderTB(b, "PO-bench")
	// Enqueue b.N deliveries in batches, outside the timed region.
	for done := 0; done < b.N; {
		n := min(5000, b.N-done)
		err := h.db.Tx(ctx, func(tx *store.Tx) error {
			for range n {
				// No order id: messages about one order go one at a time.
				if _, err := h.outbox.Enqueue(ctx, tx, "bench", p.ID, "", EventOrderCancelled, OrderRef{OrderID: o.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	base := got.Load()
	d := h.dispatcher()
	if audited {
		key, err := audit.LoadKey(filepath.Join(b.TempDir(), "k"))
		if err != nil {
			b.Fatal(err)
		}
		d.Audit = &audit.Log{DB: h.db, Key: key}
		d.Lifecycle = h.orders
	}
	timeDispatch(b, h, d, got, base+int64(b.N))
}

// countingReceiver answers 200 at once and counts what arrives.
func countingReceiver(b *testing.B) (*httptest.Server, *atomic.Int64) {
	got := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv, got
}

// timeDispatch runs d with 32 workers, timed, until got reaches want and
// no delivery is pending (every result recorded), and reports the rate.
func timeDispatch(b *testing.B, h *harness, d *Dispatcher, got *atomic.Int64, want int64) {
	start := got.Load()
	d.Workers = 32
	d.Client = NewClient(true, 32)
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	for got.Load() < want {
		time.Sleep(time.Millisecond)
	}
	for {
		var n int
		h.db.Reader.Get(&n, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`)
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(want-start)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkDispatchOrders is the production path end to end in process:
// orders created through the orders service with two recipients that get
// phone, email and address, then their order.created deliveries claimed,
// signed, sent, recorded, audited, and the orders moved to shared. b.N is
// the number of deliveries.
func BenchmarkDispatchOrders(b *testing.B) {
	srv, got := countingReceiver(b)
	h, log := ordersWithTwoRecipients(b, srv.URL, (b.N+1)/2)
	want := got.Load() + int64((b.N+1)/2*2)
	d := h.dispatcher()
	d.Audit, d.Lifecycle = log, h.orders
	d.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) // attempts are logged as in production
	timeDispatch(b, h, d, got, want)
}

// BenchmarkDispatchTurns is BenchmarkDispatchOrders without the requests:
// each turn records a 200 for every claim of the last turn and leases the
// next, so it measures the writer's work per delivery alone (lease,
// attempt, delivered, audit, orders moved to shared, commit).
func BenchmarkDispatchTurns(b *testing.B) {
	h, log := ordersWithTwoRecipients(b, "https://receiver.invalid/hook", (b.N+1)/2)
	d := h.dispatcher()
	d.Audit, d.Lifecycle = log, h.orders
	d.defaults()
	ctx := context.Background()
	b.ResetTimer()
	claims, _ := d.turn(ctx, nil, d.claiming.batch)
	done := 0
	for len(claims) > 0 {
		now := d.Clock.Now()
		batch := make([]result, len(claims))
		for i, c := range claims {
			batch[i] = result{c: c, started: now, duration: time.Millisecond, status: http.StatusOK}
		}
		var outcomes []string
		if claims, outcomes = d.turn(ctx, batch, d.claiming.batch); outcomes == nil {
			b.Fatal("turn failed")
		}
		done += len(batch)
	}
	b.StopTimer()
	if done != (b.N+1)/2*2 {
		b.Fatalf("recorded %d deliveries, want %d", done, (b.N+1)/2*2)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(done), "µs/delivery")
}

// ordersWithTwoRecipients creates n orders through the orders service,
// audited, from 16 goroutines, for two recipients at url that get phone,
// email and address.
func ordersWithTwoRecipients(b *testing.B, url string, n int) (*harness, *audit.Log) {
	h := newHarnessTB(b)
	key, err := audit.LoadKey(filepath.Join(b.TempDir(), "k"))
	if err != nil {
		b.Fatal(err)
	}
	log := &audit.Log{DB: h.db, Key: key, Clock: h.clock.Now}
	h.partners.Audit, h.outbox.Audit, h.orders.Audit = log, log, log
	h.orders.Batch = store.NewBatcher(h.db)
	for range 2 {
		h.recipientFields(b, url, "phone,email,address")
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				h.orderTB(b, fmt.Sprintf("PO-%d", i))
			}
		}()
	}
	wg.Wait()
	return h, log
}

// BenchmarkSend is the send path alone, without the database: endpoint
// from the cache, signature, go-retryablehttp, the answer read, with 32
// workers, against the same receiver as BenchmarkPlainClientFloor.
func BenchmarkSend(b *testing.B) {
	srv, _ := countingReceiver(b)
	h := newHarnessTB(b)
	p, _ := h.recipientTB(b, srv.URL)
	d := h.dispatcher()
	d.Workers, d.Client = 32, NewClient(true, 32)
	d.defaults()
	c := claimed{ID: NewDeliveryID(), PartnerID: p.ID, EventType: EventOrderCancelled,
		Payload:    []byte(`{"type":"order.cancelled","timestamp":"2026-11-28T10:00:00Z","data":{"order_id":"ord_01a2b3c4d5e6f708192a3b4c5d6e7f80"}}`),
		leaseUntil: h.clock.Now().Add(time.Hour)}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range d.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if r := d.attempt(context.Background(), c); r.status != http.StatusOK {
					b.Errorf("attempt: status %d, %s", r.status, r.err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkPlainClientFloor is the floor for BenchmarkDispatch: a plain Go
// HTTP client posting the same kind of body to the same kind of receiver
// with the same concurrency, recording nothing.
func BenchmarkPlainClientFloor(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	body := []byte(`{"type":"order.cancelled","timestamp":"2026-11-28T10:00:00Z","data":{"order_id":"ord_01a2b3c4d5e6f708192a3b4c5d6e7f80"}}`)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				res, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
