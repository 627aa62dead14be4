package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// TestChaosReceiver delivers to a receiver that answers 500, 503 and 429
// with Retry-After, hangs past the timeout and resets connections at
// random. Every delivery must end delivered within the (fast) schedule,
// none lost, every attempt recorded.
func TestChaosReceiver(t *testing.T) {
	dir := t.TempDir()
	bin, err := buildBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := newReceiver(chaos(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.close()
	// 24 attempts, each failing with probability 0.45: a delivery dies with
	// probability 0.45^24, about 5e-9.
	sched := "50ms,50ms,100ms,100ms,100ms,100ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"
	dsn := filepath.Join(dir, "husky.db")
	if storetest.Engine() == store.PostgreSQL {
		dsn = storetest.DSN(t)
	}
	w, err := newWorldOn(bin, dir, dsn, rc, "HUSKY_RETRY_SCHEDULE="+sched, "HUSKY_DELIVERY_TIMEOUT=300ms")
	if err != nil {
		t.Fatal(err)
	}
	s, err := startServer(bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	const orders = 100
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range orders {
		if st, body, err := post(client, s.url()+"/v1/orders", w.resellerKey, orderBody(i)); err != nil || st != 201 {
			t.Fatalf("order %d: %d %s %v", i, st, body, err)
		}
	}
	db := settle(t, s, w, 3*time.Minute)
	var c struct {
		Delivered int `db:"delivered"`
		Dead      int `db:"dead"`
		Pending   int `db:"pending"`
		Attempts  int `db:"attempts"`
		Recorded  int `db:"recorded"`
	}
	if err := db.Reader.Get(&c, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE status = 'delivered') AS delivered,
		(SELECT COUNT(*) FROM deliveries WHERE status = 'dead') AS dead,
		(SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending,
		(SELECT COALESCE(SUM(attempts), 0) FROM deliveries) AS attempts,
		(SELECT COUNT(*) FROM delivery_attempts) AS recorded`); err != nil {
		t.Fatal(err)
	}
	var statuses []struct {
		Status *int   `db:"http_status"`
		Error  string `db:"error"`
		N      int    `db:"n"`
	}
	db.Reader.Select(&statuses, `SELECT http_status, CASE WHEN error = '' THEN '' WHEN error = 'timeout' THEN 'timeout' ELSE 'connection' END AS error,
		COUNT(*) AS n FROM delivery_attempts GROUP BY 1, 2 ORDER BY 3 DESC`)
	summary := fmt.Sprintf("chaos test: %d orders, %d deliveries delivered, %d dead, %d pending; %d attempts, %d recorded;",
		orders, c.Delivered, c.Dead, c.Pending, c.Attempts, c.Recorded)
	for _, s := range statuses {
		if s.Status != nil {
			summary += fmt.Sprintf(" HTTP %d ×%d", *s.Status, s.N)
		} else {
			summary += fmt.Sprintf(" %s ×%d", s.Error, s.N)
		}
	}
	t.Log(summary)
	fmt.Println(summary)
	want := 2 * orders
	if c.Delivered != want || c.Dead != 0 || c.Pending != 0 {
		t.Errorf("want all %d deliveries delivered", want)
	}
	if c.Recorded != c.Attempts || c.Attempts <= want {
		t.Errorf("attempts %d, recorded %d: every attempt must be recorded, and chaos must have caused retries", c.Attempts, c.Recorded)
	}
}
