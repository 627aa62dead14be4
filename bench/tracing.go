package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// benchTracing: intake on SQLite with tracing off (no OTEL_* variable set,
// the default) and with every span exported over OTLP/HTTP to a loopback
// collector, each run twice in turn so that both meet the same disk.
func benchTracing(cfg benchConfig) ([]row, error) {
	dir, err := os.MkdirTemp("", "husky-floor")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	_, floorOK, err := intakeFloor(filepath.Join(dir, "floor.db"), cfg.duration)
	if err != nil {
		return nil, err
	}
	col, err := newCollector()
	if err != nil {
		return nil, err
	}
	defer col.srv.Close()
	exporting := []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + col.url()}
	var off, on int
	for range 2 {
		for _, env := range [][]string{nil, exporting} {
			w, _, s, done, err := serveWorld(cfg, nil, false, env...)
			if err != nil {
				return nil, err
			}
			_, ok, err := intakeLoad([]*server{s}, w.resellerKey, cfg.duration)
			done()
			if err != nil {
				return nil, err
			}
			if env == nil {
				off += ok
			} else {
				on += ok
			}
		}
	}
	if col.exports.Load() == 0 {
		return nil, fmt.Errorf("the collector received no spans")
	}
	secs := 2 * cfg.duration.Seconds()
	offRate, onRate, floor := float64(off)/secs, float64(on)/secs, float64(floorOK)/cfg.duration.Seconds()
	return []row{
		{fmt.Sprintf("intake on SQLite, tracing off (the default): orders/s, %d connections", intakeConns), fmt.Sprintf("%.0f", offRate),
			fmt.Sprintf("%.0f (gin + one-row insert)", floor), fmt.Sprintf("%.2f×", offRate/floor), "as intake, ≥ 0.7×"},
		{fmt.Sprintf("intake on SQLite, every span exported (OTLP/HTTP, loopback collector, %.1f MB received)", float64(col.bytes.Load())/1e6),
			fmt.Sprintf("%.0f", onRate), fmt.Sprintf("%.0f (tracing off, this run)", offRate), fmt.Sprintf("%.2f×", onRate/offRate), "cost stated"},
	}, nil
}

// collector is a loopback OTLP/HTTP endpoint that reads and counts what
// it is sent.
type collector struct {
	ln             net.Listener
	srv            *http.Server
	exports, bytes atomic.Int64
}

func newCollector() (*collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collector{ln: ln}
	c.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		c.exports.Add(1)
		c.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go c.srv.Serve(ln)
	return c, nil
}

func (c *collector) url() string { return "http://" + c.ln.Addr().String() }
