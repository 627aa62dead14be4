package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// TestLeaderFailover runs two instances on one PostgreSQL database: exactly
// one leads (purges, key rotation, audit checkpoints, housekeeping), and
// when it is killed the other takes the lead within 10 seconds.
func TestLeaderFailover(t *testing.T) {
	if storetest.Engine() != store.PostgreSQL {
		t.Skip("PostgreSQL only: one process serves a SQLite database, and always leads")
	}
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
	w, err := newWorldOn(bin, dir, storetest.DSN(t), rc)
	if err != nil {
		t.Fatal(err)
	}
	var servers [2]*server
	var logs [2]string
	for i := range servers {
		logs[i] = filepath.Join(dir, fmt.Sprintf("serve-%d.log", i))
		if servers[i], err = startServer(bin, w.env, freeAddr(), logs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The servers running at the end: the killed one is restarted below.
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	leaders := func() (n int, which int) {
		for i, l := range logs {
			if leadings(l) > 0 {
				n, which = n+1, i
			}
		}
		return n, which
	}
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := leaders(); n == 0 && time.Now().Before(deadline); n, _ = leaders() {
		time.Sleep(50 * time.Millisecond)
	}
	n, leader := leaders()
	if n != 1 {
		t.Fatalf("%d instances lead, want exactly 1", n)
	}
	follower := 1 - leader
	servers[leader].kill()
	killed := time.Now()
	for leadings(logs[follower]) == 0 {
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("the follower did not take the lead within 10 s of the leader's death")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	msg := fmt.Sprintf("leader failover (postgres, 2 instances): the follower led %v after the leader's SIGKILL", took.Round(10*time.Millisecond))
	t.Log(msg)
	fmt.Println(msg)
	// Restarted, the old leader follows: the lead does not come back.
	if servers[leader], err = startServer(bin, w.env, freeAddr(), logs[leader]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * leaderPoll)
	if got := leadings(logs[leader]); got != 1 {
		t.Errorf("the restarted instance logged leading %d times in all, want 1 (its first run only)", got)
	}
}

// leaderPoll is how often the service tries for the lead (app).
const leaderPoll = 2 * time.Second

// leadings counts the times a server log says it took the lead.
func leadings(log string) int {
	b, _ := os.ReadFile(log)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var e struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(e.Msg, "leading") {
			n++
		}
	}
	return n
}
