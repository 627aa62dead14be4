package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkSubmitOrder measures POST /v1/orders through the real router,
// database and hooks, with 16 concurrent clients.
func BenchmarkSubmitOrder(b *testing.B) {
	e := newTestEnv(b)
	body := sampleOrder(b)
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := strings.Replace(body, "PO-2026-0042", fmt.Sprintf("PO-B-%d", i), 1)
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/orders", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
