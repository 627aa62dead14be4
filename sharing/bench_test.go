package sharing

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
)

// BenchmarkDispatch measures deliveries per second to a loopback receiver
// that answers 200 at once: claimed, signed, sent and recorded.
func BenchmarkDispatch(b *testing.B) { benchDispatch(b, false) }

// BenchmarkDispatchAudited is BenchmarkDispatch with the audit trail and
// the order lifecycle wired as in production.
func BenchmarkDispatchAudited(b *testing.B) { benchDispatch(b, true) }

func benchDispatch(b *testing.B, audited bool) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	h := newHarnessTB(b)
	p, _ := h.recipientTB(b, srv.URL)
	ctx := context.Background()
	o := h.orderTB(b, "PO-bench")
	// Enqueue b.N deliveries in batches, outside the timed region.
	for done := 0; done < b.N; {
		n := min(5000, b.N-done)
		err := h.db.Tx(ctx, func(tx *sqlx.Tx) error {
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
	d.Workers = 32
	d.Client = NewClient(true, 32)
	b.ResetTimer()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	for got.Load()-base < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	// Wait for the results to be recorded, too.
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
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
