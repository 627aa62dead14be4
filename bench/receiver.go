package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// receiver is a recipient endpoint on loopback that counts what arrives,
// per path (one path per partner), by webhook-id.
type receiver struct {
	srv   *http.Server
	ln    net.Listener
	mu    sync.Mutex
	byID  map[string]int               // webhook-id -> times received
	seen  map[string]map[string]string // path -> "event order_id" -> webhook-id
	dupID map[string]bool              // a second webhook-id for the same path+event+order
	lat   *latencies                   // arrival - payload timestamp
	at    map[string][]time.Time       // webhook-id -> arrival times
	// answer decides the response; nil answers 200 at once.
	answer func(w http.ResponseWriter, r *http.Request) bool
}

type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		OrderID string `json:"order_id"`
	} `json:"data"`
}

func newReceiver(answer func(w http.ResponseWriter, r *http.Request) bool) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{ln: ln, byID: map[string]int{}, seen: map[string]map[string]string{}, dupID: map[string]bool{}, lat: &latencies{},
		at: map[string][]time.Time{}, answer: answer}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *receiver) url(path string) string { return "http://" + rc.ln.Addr().String() + path }

func (rc *receiver) close() { rc.srv.Close() }

// ServeHTTP records a delivery only when it is answered 2xx.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if rc.answer != nil && !rc.answer(w, r) {
		return
	}
	var env envelope
	_ = json.Unmarshal(body, &env)
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.byID[id]++
	rc.at[id] = append(rc.at[id], time.Now())
	key := env.Type + " " + env.Data.OrderID
	if rc.seen[r.URL.Path] == nil {
		rc.seen[r.URL.Path] = map[string]string{}
	}
	if prev, ok := rc.seen[r.URL.Path][key]; ok && prev != id {
		rc.dupID[r.URL.Path+" "+key] = true
	}
	rc.seen[r.URL.Path][key] = id
	rc.mu.Unlock()
	if !env.Timestamp.IsZero() {
		rc.lat.add(time.Since(env.Timestamp))
	}
	if rc.answer == nil {
		w.WriteHeader(http.StatusOK)
	}
}

// firstAfter returns when the webhook-id first arrived after t, if it did.
func (rc *receiver) firstAfter(id string, t time.Time) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, a := range rc.at[id] {
		if a.After(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

// got reports whether path received event for order.
func (rc *receiver) got(path, event, orderID string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	_, ok := rc.seen[path][event+" "+orderID]
	return ok
}

// counts returns deliveries received, distinct webhook-ids, and how many
// were received more than once.
func (rc *receiver) counts() (total, distinct, duplicated int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.byID {
		total += n
		distinct++
		if n > 1 {
			duplicated++
		}
	}
	return
}

// chaos answers like an unreliable partner: a 500, a 503 or 429 with
// Retry-After, a hang past the timeout, a reset connection, or a 200.
func chaos(hang time.Duration) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		switch x := rand.IntN(100); {
		case x < 12:
			http.Error(w, "internal error", http.StatusInternalServerError)
		case x < 20:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case x < 28:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case x < 36:
			select {
			case <-r.Context().Done():
			case <-time.After(hang):
			}
		case x < 45:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // RST, not FIN
					}
					c.Close()
				}
			}
		default:
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	}
}
