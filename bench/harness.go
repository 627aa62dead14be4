// Command bench measures the real husky binary on loopback, each figure
// beside its floor measured in the same run, and holds the crash and chaos
// tests (go test ./bench). See README "Benchmarks".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// husky runs the binary's CLI with --json and decodes its output.
func husky(bin string, env []string, args ...string) (map[string]any, error) {
	cmd := exec.Command(bin, append(args, "--json")...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("husky %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("husky %s: %v", strings.Join(args, " "), err)
	}
	return m, nil
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running `husky serve`.
type server struct {
	bin   string
	env   []string
	addr  string
	cmd   *exec.Cmd
	done  chan error
	log   *os.File
	ready time.Duration
}

func startServer(bin string, env []string, addr, logPath string) (*server, error) {
	return startServerWithin(bin, env, addr, logPath, 30*time.Second)
}

// startServerWithin is startServer for a start that takes long (sealing a
// large plaintext database).
func startServerWithin(bin string, env []string, addr, logPath string, ready time.Duration) (*server, error) {
	s := &server{bin: bin, env: env, addr: addr, ready: ready}
	return s, s.start(logPath)
}

func (s *server) url() string { return "http://" + s.addr }

func (s *server) start(logPath string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.log = f
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = append(append(os.Environ(), s.env...), "HUSKY_ADDR="+s.addr)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(max(s.ready, 30*time.Second))
	for time.Now().Before(deadline) {
		if res, err := http.Get(s.url() + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case err := <-s.done:
			return fmt.Errorf("husky serve exited: %v (log %s)", err, logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("husky serve not ready (log %s)", logPath)
}

// stop sends SIGTERM and waits.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.log.Close()
		return err
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("husky serve did not stop")
	}
}

// kill sends SIGKILL: no shutdown, no flush, as a crash.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
	s.log.Close()
}

// peakRSS returns the process's peak resident memory in bytes (VmHWM).
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// metricLines returns the lines of /metrics whose metric name starts with
// prefix (a histogram's buckets, sum and count; every label).
func (s *server) metricLines(prefix string) ([]string, error) {
	res, err := http.Get(s.url() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out, nil
}

// metric reads one unlabelled gauge or counter from /metrics.
func (s *server) metric(name string) (float64, error) {
	res, err := http.Get(s.url() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// waitBacklog polls until no delivery is pending or timeout passes.
func (s *server) waitBacklog(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n, err := s.metric("husky_delivery_backlog"); err == nil && n == 0 {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("backlog not drained after %v", timeout)
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// pct returns the p-th percentile (0-100).
func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	i := int(float64(len(l.d)-1) * p / 100)
	return l.d[i]
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// orderBody returns a valid, varied order request.
func orderBody(i int) []byte {
	skus := []string{"HE150D-4TB", "HE350T-16TB", "HE350R-32TB", "HE700R-32TB", "HE1000R-96TB", "HE1800R-192TB"}
	countries := []struct{ cc, phone, city, pc string }{
		{"DK", "+4520%06d", "Brøndby", "2605"}, {"SE", "+46701%06d", "Stockholm", "11122"},
		{"DE", "+49301%06d", "Berlin", "10115"}, {"NO", "+4791%06d", "Oslo", "0150"},
	}
	c := countries[i%len(countries)]
	m := map[string]any{
		"reference": fmt.Sprintf("PO-%d-%d", time.Now().UnixNano(), i),
		"customer":  map[string]any{"name": fmt.Sprintf("Customer %d", i), "email": fmt.Sprintf("buyer%d@example.com", i), "phone": fmt.Sprintf(c.phone, 100000+i%800000)},
		"ship_to": map[string]any{"organization": fmt.Sprintf("Site %d A/S", i), "line1": fmt.Sprintf("Industrivej %d", i%200+1),
			"city": c.city, "postal_code": c.pc, "country": c.cc},
		"items": []any{map[string]any{"sku": skus[i%len(skus)], "quantity": i%5 + 1}},
		"notes": "benchmark order",
	}
	if i%3 == 0 {
		m["items"] = append(m["items"].([]any), map[string]any{"sku": skus[(i+1)%len(skus)], "quantity": 1})
	}
	b, _ := json.Marshal(m)
	return b
}

// load posts from conns clients until ctx ends, recording latencies of
// 2xx answers; it returns how many succeeded and failed.
func load(ctx context.Context, conns int, do func(client *http.Client, i int) (int, error)) (*latencies, int, int) {
	lat := &latencies{}
	var ok, bad, next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				next++
				i := int(next)
				mu.Unlock()
				start := time.Now()
				st, err := do(client, i)
				mu.Lock()
				if err == nil && st >= 200 && st < 300 {
					ok++
					mu.Unlock()
					lat.add(time.Since(start))
				} else {
					bad++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	return lat, int(ok), int(bad)
}

func post(client *http.Client, url, key string, body []byte, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, nil
}
