package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/milestone/husky/store"
)

var (
	crashKills   = flag.Int("crash.kills", 10, "how many times the crash test kills the server")
	crashClients = flag.Int("crash.clients", 8, "concurrent clients in the crash test")
	crashMaxUp   = flag.Duration("crash.max-up", 800*time.Millisecond, "longest the server runs between kills")
)

// TestCrashSIGKILL submits orders while the server is killed with SIGKILL
// and restarted at random moments, then checks that every order that got a
// 2xx exists, has its deliveries, and reached every recipient at least once;
// duplicates at the receiver must all carry the same webhook-id.
func TestCrashSIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin, err := buildBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := newReceiver(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.close()
	// Every setting at its default but the rate limit: eight clients
	// submit as fast as they can with one reseller key, far past 100/s.
	// The delivery timeout, and with it the 95 s lease, stays at its
	// default: a killed server's claims must come free by its heartbeat.
	w, err := newWorld(bin, dir, rc) // newWorld turns the rate limit off
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"HUSKY_DELIVERY_TIMEOUT", "HUSKY_RETRY_SCHEDULE", "HUSKY_DELIVERY_WORKERS"} {
		if os.Getenv(v) != "" {
			t.Fatalf("%s is set in the environment: the crash test runs with the defaults", v)
		}
	}
	addr := freeAddr()
	logPath := filepath.Join(dir, "serve.log")
	s, err := startServer(bin, w.env, addr, logPath)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		tried int
	)
	ctx, stopClients := context.WithCancel(context.Background())
	var clients sync.WaitGroup
	for c := range *crashClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ctx.Err() == nil; i++ {
				body := orderBody(c*1_000_000 + i)
				st, resp, err := post(client, "http://"+addr+"/v1/orders", w.resellerKey, body)
				mu.Lock()
				tried++
				mu.Unlock()
				if err != nil || st != http.StatusCreated {
					time.Sleep(20 * time.Millisecond) // the server is down or restarting
					continue
				}
				var o struct{ ID string }
				json.Unmarshal(resp, &o)
				mu.Lock()
				acked[o.ID] = true
				mu.Unlock()
			}
		}()
	}
	// The claims each killed server held, and the restart that followed.
	type orphans struct {
		restart time.Time
		ids     []string
	}
	var killed []orphans
	for k := range *crashKills {
		time.Sleep(time.Duration(100+rand.IntN(int(*crashMaxUp/time.Millisecond))) * time.Millisecond)
		s.kill()
		ids, err := heldClaims(w.db)
		if err != nil {
			t.Fatal(err)
		}
		restart := time.Now()
		if s, err = startServer(bin, w.env, addr, logPath); err != nil {
			stopClients()
			t.Fatalf("restart %d: %v", k+1, err)
		}
		killed = append(killed, orphans{restart, ids})
	}
	time.Sleep(300 * time.Millisecond)
	stopClients()
	clients.Wait()
	db := settle(t, s, w, 2*time.Minute)
	var stored []string
	if err := db.Reader.Select(&stored, `SELECT id FROM orders`); err != nil {
		t.Fatal(err)
	}
	exists := map[string]bool{}
	for _, id := range stored {
		exists[id] = true
	}
	var without int
	if err := db.Reader.Get(&without, `SELECT COUNT(*) FROM orders o WHERE
		(SELECT COUNT(*) FROM deliveries d WHERE d.order_id = o.id AND d.event_type = 'order.created') != 2`); err != nil {
		t.Fatal(err)
	}
	lost, unreached := 0, 0
	for id := range acked {
		if !exists[id] {
			lost++
		}
		for _, path := range []string{"/logistics", "/manufacturer"} {
			if !rc.got(path, "order.created", id) {
				unreached++
			}
		}
	}
	// How long after the restart each killed server's claims arrived.
	var longest time.Duration
	orphaned, neverSent := 0, 0
	for _, k := range killed {
		for _, id := range k.ids {
			orphaned++
			at, ok := rc.firstAfter(id, k.restart)
			if !ok {
				neverSent++
				continue
			}
			longest = max(longest, at.Sub(k.restart))
		}
	}
	total, distinct, duplicated := rc.counts()
	summary := fmt.Sprintf("crash test (defaults; rate limit off): %d kills, %d requests, %d acknowledged, %d stored; lost %d, "+
		"without both deliveries %d, recipient deliveries missing %d; receiver got %d webhooks, %d distinct webhook-ids, "+
		"%d received more than once, %d (partner, order, event) seen under a second webhook-id; "+
		"%d claims held by killed servers, %d never sent again, longest restart to redelivery %v",
		*crashKills, tried, len(acked), len(stored), lost, without, unreached, total, distinct, duplicated, len(rc.dupID),
		orphaned, neverSent, longest.Round(10*time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
	if len(acked) == 0 {
		t.Fatal("no order was acknowledged")
	}
	if lost > 0 || without > 0 || unreached > 0 || len(rc.dupID) > 0 || neverSent > 0 {
		t.Fatal("durability violated")
	}
	// Not a speed assertion: the promise that a crash costs seconds (the
	// heartbeat timeout, 5 s), not the lease's 95.
	if longest > 10*time.Second {
		t.Fatalf("a killed server's claims waited %v after the restart, more than 10 s", longest)
	}
}

// heldClaims returns the deliveries leased in the database right now: after
// a SIGKILL, those the killed server had claimed and not finished.
func heldClaims(path string) ([]string, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM deliveries WHERE status = 'pending' AND lease_owner IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// settle waits for the server's backlog to drain, stops it, and opens its
// database for the test to inspect.
func settle(t *testing.T, s *server, w *world, timeout time.Duration) *store.DB {
	t.Helper()
	if err := s.waitBacklog(timeout); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), w.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
