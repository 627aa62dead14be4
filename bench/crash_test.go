package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

var (
	crashKills   = flag.Int("crash.kills", 10, "how many times the crash test kills the server")
	crashClients = flag.Int("crash.clients", 8, "concurrent clients in the crash test")
	crashMaxUp   = flag.Duration("crash.max-up", 800*time.Millisecond, "longest the server runs between kills")
)

// TestCrashSIGKILL submits orders while the server is killed with SIGKILL
// and restarted at random moments, then checks that every order that got a
// 2xx exists, has its deliveries, and reached every recipient at least once;
// duplicates at the receiver must all carry the same webhook-id. On
// PostgreSQL (the suite's PostgreSQL half) two instances serve one
// database, clients send to either, and either is killed at random: the
// other takes the killed one's claims (and, if it led, the lead).
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
	instances := 1
	dsn := filepath.Join(dir, "husky.db")
	if storetest.Engine() == store.PostgreSQL {
		instances, dsn = 2, storetest.DSN(t)
	}
	w, err := newWorldOn(bin, dir, dsn, rc) // newWorld turns the rate limit off
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"HUSKY_DELIVERY_TIMEOUT", "HUSKY_RETRY_SCHEDULE", "HUSKY_DELIVERY_WORKERS"} {
		if os.Getenv(v) != "" {
			t.Fatalf("%s is set in the environment: the crash test runs with the defaults", v)
		}
	}
	servers := make([]*server, instances)
	addrs := make([]string, instances)
	logs := make([]string, instances)
	for i := range servers {
		addrs[i], logs[i] = freeAddr(), filepath.Join(dir, fmt.Sprintf("serve-%d.log", i))
		if servers[i], err = startServer(bin, w.env, addrs[i], logs[i]); err != nil {
			t.Fatal(err)
		}
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
				addr := addrs[rand.IntN(len(addrs))]
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
	// The claims each killed server held, and when they came free: at the
	// restart with one instance, at the kill with two (the other is there).
	type orphans struct {
		from time.Time
		ids  []string
	}
	var killed []orphans
	for k := range *crashKills {
		time.Sleep(time.Duration(100+rand.IntN(int(*crashMaxUp/time.Millisecond))) * time.Millisecond)
		i := rand.IntN(instances)
		owner := dispatcherID(logs[i])
		servers[i].kill()
		killedAt := time.Now()
		ids, err := heldClaims(w.db, owner)
		if err != nil {
			t.Fatal(err)
		}
		restart := time.Now()
		if servers[i], err = startServer(bin, w.env, addrs[i], logs[i]); err != nil {
			stopClients()
			t.Fatalf("restart %d: %v", k+1, err)
		}
		from := restart
		if instances > 1 {
			from = killedAt
		}
		killed = append(killed, orphans{from, ids})
	}
	time.Sleep(300 * time.Millisecond)
	stopClients()
	clients.Wait()
	for _, s := range servers[1:] {
		if err := s.waitBacklog(2 * time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	}
	db := settle(t, servers[0], w, 2*time.Minute)
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
	// Every stored order and every delivery made is in the audit trail,
	// whichever instance, transaction and crash it went through; and
	// integrated: the last server, stopped cleanly, left nothing pending,
	// however many integrations the kills cut short.
	var pending int
	if err := db.Reader.Get(&pending, `SELECT COUNT(*) FROM audit_pending`); err != nil {
		t.Fatal(err)
	}
	if pending > 0 {
		t.Errorf("%d audit entries still pending after a clean stop", pending)
	}
	var twice int
	if err := db.Reader.Get(&twice, `SELECT COUNT(*) FROM (SELECT order_id FROM audit_entries WHERE action = 'order.created'
		GROUP BY order_id HAVING COUNT(*) > 1) AS d`); err != nil {
		t.Fatal(err)
	}
	if twice > 0 {
		t.Errorf("%d orders' order.created entries were integrated more than once", twice)
	}
	var unaudited int
	if err := db.Reader.Get(&unaudited, `SELECT
		(SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM audit_entries a
			WHERE a.order_id = o.id AND a.action = 'order.created')) +
		(SELECT COUNT(*) FROM deliveries d WHERE d.status = 'delivered' AND NOT EXISTS (SELECT 1 FROM audit_entries a
			WHERE a.delivery_id = d.id AND a.action IN ('delivery.delivered', 'disclosure.delivered')))`); err != nil {
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
	// How long after they came free each killed server's claims arrived.
	var longest time.Duration
	orphaned, neverSent, lastCommits := 0, 0, 0
	neverStatus := map[string]int{} // what became of those never sent again
	for _, k := range killed {
		for _, id := range k.ids {
			orphaned++
			at, ok := rc.firstAfter(id, k.from)
			if !ok {
				// On PostgreSQL a COMMIT the killed process had sent
				// still lands after its death: the claim was read as
				// held, and then its delivery was recorded. It was sent
				// before the kill and ends delivered: not an orphan.
				var status string
				if err := db.Reader.Get(&status, `SELECT status FROM deliveries WHERE id = $1`, id); err != nil {
					t.Fatal(err)
				}
				if sent, was := rc.firstAfter(id, time.Time{}); was && sent.Before(k.from) && status == "delivered" {
					lastCommits++
					continue
				}
				neverSent++
				neverStatus[status]++
				continue
			}
			longest = max(longest, at.Sub(k.from))
		}
	}
	total, distinct, duplicated := rc.counts()
	since := "restart"
	if instances > 1 {
		since = "kill (the other instance takes them)"
	}
	summary := fmt.Sprintf("crash test (%s, %d instance(s), defaults; rate limit off): %d kills, %d requests, %d acknowledged, %d stored; lost %d, "+
		"without both deliveries %d, recipient deliveries missing %d, orders or deliveries missing from the audit trail %d; receiver got %d webhooks, %d distinct webhook-ids, "+
		"%d received more than once, %d (partner, order, event) seen under a second webhook-id; "+
		"%d claims held by killed servers, %d of them recorded delivered by the killed server's last commit, %d never sent again, longest %s to redelivery %v",
		storetest.Engine(), instances, *crashKills, tried, len(acked), len(stored), lost, without, unreached, unaudited, total, distinct, duplicated,
		len(rc.dupID), orphaned, lastCommits, neverSent, since, longest.Round(10*time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
	if len(acked) == 0 {
		t.Fatal("no order was acknowledged")
	}
	if neverSent > 0 {
		t.Logf("claims never sent again, by their status at the end: %v", neverStatus)
	}
	if lost > 0 || without > 0 || unreached > 0 || unaudited > 0 || len(rc.dupID) > 0 || neverSent > 0 {
		t.Fatal("durability violated")
	}
	// Not a speed assertion: the promise that a crash costs seconds (the
	// heartbeat timeout, 5 s), not the lease's 95.
	if longest > 10*time.Second {
		t.Fatalf("a killed server's claims waited %v, more than 10 s", longest)
	}
	// However the instances and the kills interleaved, the integrations
	// wrote one gap-free trail, each entry once (the count above found
	// every one; a second copy would break the tree).
	verify := exec.Command(bin, "audit", "verify")
	verify.Env = append(os.Environ(), w.env...)
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("audit verify after the crashes: %v\n%s", err, out)
	}
}

// dispatcherID returns the id the last server to write log logged for its
// dispatcher: the lease owner of its claims.
func dispatcherID(log string) string {
	b, _ := os.ReadFile(log)
	id := ""
	for _, line := range strings.Split(string(b), "\n") {
		var e struct {
			Msg string `json:"msg"`
			ID  string `json:"dispatcher_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "dispatcher started" {
			id = e.ID
		}
	}
	return id
}

// heldClaims returns the deliveries leased right now by owner (any owner,
// if empty): after a SIGKILL, those the killed server had claimed and not
// finished.
func heldClaims(dsn, owner string) ([]string, error) {
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var ids []string
	err = db.Reader.Select(&ids, `SELECT id FROM deliveries WHERE status = 'pending' AND lease_owner IS NOT NULL
		AND ($1 = '' OR lease_owner = $2)`, owner, owner)
	return ids, err
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
