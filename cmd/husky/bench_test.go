package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
)

// BenchmarkSubmitOrder measures POST /v1/orders through the real router,
// database and hooks, with 16 concurrent clients: validation, the order,
// one outbox row for each of two recipients, and three audit entries. The
// dispatcher is not running, so only intake is measured.
func BenchmarkSubmitOrder(b *testing.B) { benchSubmit(b, true) }

// BenchmarkSubmitOrderNoAudit is BenchmarkSubmitOrder without the audit
// trail, to show what the three audit entries per order cost.
func BenchmarkSubmitOrderNoAudit(b *testing.B) { benchSubmit(b, false) }

func benchSubmit(b *testing.B, audited bool) {
	e := newTestEnv(b)
	if !audited {
		e.app.Orders.Audit, e.app.Outbox.Audit = nil, nil
	}
	for _, k := range []partners.Kind{partners.KindLogistics, partners.KindManufacturer} {
		if _, _, err := e.app.Partners.Add(context.Background(), "bench", partners.NewPartner{Kind: k, Name: string(k), EndpointURL: "http://127.0.0.1:9/"}); err != nil {
			b.Fatal(err)
		}
	}
	body := sampleOrder(b)
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if st, err := e.postOrder(client, body, fmt.Sprintf("PO-B-%d", i)); err != nil || st != 201 {
				b.Errorf("status %d, %v", st, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkCommitToArrival submits orders at 500 per second through the
// API to an app.App with two recipients and reports how long each webhook took
// from the order's commit to its arrival (median and 99th percentile).
func BenchmarkCommitToArrival(b *testing.B) {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		total atomic.Int64
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Timestamp time.Time `json:"timestamp"`
		}
		json.NewDecoder(r.Body).Decode(&env)
		d := time.Since(env.Timestamp)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		total.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	e := newTestEnv(b)
	for _, k := range []partners.Kind{partners.KindLogistics, partners.KindManufacturer} {
		if _, _, err := e.app.Partners.Add(context.Background(), "bench", partners.NewPartner{Kind: k, Name: string(k), EndpointURL: recv.URL}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.app.Dispatcher.Run(ctx)
	defer cancel()
	body := sampleOrder(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tick := time.NewTicker(2 * time.Millisecond) // 500 per second
	defer tick.Stop()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.postOrder(client, body, fmt.Sprintf("PO-L-%d", i)); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	for total.Load() < int64(2*b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// postOrder submits the sample order under reference ref as reseller A.
func (e *testEnv) postOrder(client *http.Client, body, ref string) (int, error) {
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/orders", strings.NewReader(strings.Replace(body, "PO-2026-0042", ref, 1)))
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
