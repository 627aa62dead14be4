package audit

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAppend measures audit entries appended per second, one entry per
// transaction as an order's own transaction would add it.
func BenchmarkAppend(b *testing.B) {
	l := newLog(b)
	b.ResetTimer()
	for range b.N {
		appendN(b, l, 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendBatched measures entries per second when many are
// appended in one transaction (bulk work such as a purge).
func BenchmarkAppendBatched(b *testing.B) {
	l := newLog(b)
	b.ResetTimer()
	appendN(b, l, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerify measures `husky audit verify` on a log of
// HUSKY_BENCH_AUDIT_ENTRIES entries (default 100,000; the README's figure
// uses 1,000,000).
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if s := os.Getenv("HUSKY_BENCH_AUDIT_ENTRIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	l := newLog(b)
	start := time.Now()
	for done := 0; done < n; done += 50_000 {
		appendN(b, l, min(50_000, n-done))
	}
	b.Logf("appended %d entries in %v (%.0f entries/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	if _, err := l.Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		rep, err := l.Verify(context.Background(), nil)
		if err != nil || !rep.OK {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/verify")
}
