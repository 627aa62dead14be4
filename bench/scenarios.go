package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/sharing/sharingtest"
	"github.com/milestone/husky/store"
)

type benchConfig struct {
	bin      string
	duration time.Duration
	backlog  int
	purge    int
	subjects int
	// deliveries is how many orders the delivery scenarios submit (two
	// webhooks each).
	deliveries int
	// postgres is the server the PostgreSQL rows create their databases
	// on; empty, those rows are skipped.
	postgres string
	// instances 1 runs the PostgreSQL rows with one instance only (for a
	// quicker look); otherwise with one and with two.
	instances int
	only      string
}

// row is one line of the result table.
type row struct {
	what, husky, floor, ratio, target string
}

func (c benchConfig) wants(s string) bool {
	return c.only == "" || strings.Contains(","+c.only+",", ","+s+",")
}

func runBench(cfg benchConfig) error {
	gin.SetMode(gin.ReleaseMode)
	if _, err := os.Stat(cfg.bin); err != nil {
		return fmt.Errorf("%s: build it first (make build): %w", cfg.bin, err)
	}
	var rows []row
	for _, sc := range []struct {
		name string
		run  func(benchConfig) ([]row, error)
	}{{"intake", benchIntake}, {"tracing", benchTracing}, {"delivery", benchDelivery}, {"intake-postgres", benchIntakePostgres}, {"delivery-postgres", benchDeliveryPostgres}, {"end-to-end", benchEndToEnd}, {"latency", benchLatency}, {"backlog", benchBacklog}, {"purge", benchPurge}, {"subjects", benchSubjects}, {"console", benchConsole}, {"keys", benchKeys}} {
		if !cfg.wants(sc.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "running %s…\n", sc.name)
		r, err := sc.run(cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		rows = append(rows, r...)
	}
	host, _ := os.Hostname()
	fmt.Printf("\nhusky benchmark, %s, %d CPUs (%s), %s, %s, load %v per scenario, HUSKY_RATE_LIMIT=off\n\n", host, runtime.NumCPU(),
		cpuModel(), runtime.Version(), time.Now().UTC().Format(time.DateOnly), cfg.duration)
	fmt.Println("| scenario | husky | floor, same run | ratio | target |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.what, r.husky, r.floor, r.ratio, r.target)
	}
	return nil
}

// cpuModel names the processor, for the record of where figures came from.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// tempWorld makes a directory, a receiver and a world in it.
func tempWorld(cfg benchConfig, answer func(w http.ResponseWriter, r *http.Request) bool, env ...string) (*world, *receiver, string, func(), error) {
	dir, err := os.MkdirTemp("", "husky-bench")
	if err != nil {
		return nil, nil, "", nil, err
	}
	rc, err := newReceiver(answer)
	if err != nil {
		return nil, nil, "", nil, err
	}
	w, err := newWorld(cfg.bin, dir, rc, env...)
	cleanup := func() { rc.close(); os.RemoveAll(dir) }
	if err != nil {
		cleanup()
		return nil, nil, "", nil, err
	}
	return w, rc, dir, cleanup, nil
}

// serveWorld is tempWorld with the recipients enabled or not and the
// server started; done stops the server and removes everything.
func serveWorld(cfg benchConfig, answer func(w http.ResponseWriter, r *http.Request) bool, recipients bool, env ...string) (*world, *receiver, *server, func(), error) {
	w, rc, dir, cleanup, err := tempWorld(cfg, answer, env...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if !recipients {
		if err := w.recipients(false); err != nil {
			cleanup()
			return nil, nil, nil, nil, err
		}
	}
	s, err := startServer(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"))
	if err != nil {
		cleanup()
		return nil, nil, nil, nil, err
	}
	return w, rc, s, func() { s.stop(); cleanup() }, nil
}

// benchIntake: POST /v1/orders from 16 connections, whole path, against a
// minimal gin handler that decodes the same JSON and inserts one row into
// one table with the same SQLite settings.
func benchIntake(cfg benchConfig) ([]row, error) {
	dir, err := os.MkdirTemp("", "husky-floor")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	floorLat, floorOK, err := intakeFloor(filepath.Join(dir, "floor.db"), cfg.duration)
	if err != nil {
		return nil, err
	}
	// Husky, with two recipients disabled so that only intake is measured
	// (the outbox rows are still written).
	w, _, s, done, err := serveWorld(cfg, nil, false)
	if err != nil {
		return nil, err
	}
	defer done()
	lat, ok, err := intakeLoad([]*server{s}, w.resellerKey, cfg.duration)
	if err != nil {
		return nil, err
	}
	return intakeRows("SQLite", lat, floorLat, ok, floorOK, cfg.duration), nil
}

// intakeConns is how many connections submit orders, to husky and to the
// floor alike.
const intakeConns = 16

// intakeFloor is the floor for intake on dsn's engine: a minimal gin
// handler that decodes the same JSON and inserts one row into one table,
// through the same store.Open (so the same SQLite settings, or the same
// PostgreSQL pool), loaded from intakeConns connections for d.
// floorTable is the floor's one table, on each engine.
var floorTable = store.PerEngine[string]{
	SQLite:     `CREATE TABLE floor_orders (id INTEGER PRIMARY KEY, reference TEXT NOT NULL, body TEXT NOT NULL)`,
	PostgreSQL: `CREATE TABLE floor_orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, reference TEXT NOT NULL, body TEXT NOT NULL)`,
}

func intakeFloor(dsn string, d time.Duration) (*latencies, int, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	insert := `INSERT INTO floor_orders (reference, body) VALUES ($1, $2) RETURNING id`
	if _, err := db.Writer.Exec(*floorTable.For(db.Engine)); err != nil {
		return nil, 0, err
	}
	r := gin.New()
	r.POST("/v1/orders", func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			c.Status(400)
			return
		}
		var id int64
		if err := db.Writer.QueryRowContext(c.Request.Context(), insert, m["reference"], string(body)).Scan(&id); err != nil {
			c.Status(500)
			return
		}
		c.JSON(201, gin.H{"id": id})
	})
	srv := &http.Server{Addr: freeAddr(), Handler: r}
	go srv.ListenAndServe()
	defer srv.Close()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat, ok, _ := load(ctx, intakeConns, func(c *http.Client, i int) (int, error) {
		st, _, err := post(c, "http://"+srv.Addr+"/v1/orders", "", orderBody(i))
		return st, err
	})
	return lat, ok, nil
}

// intakeLoad submits orders for d from intakeConns connections, each
// order to the next of servers in turn; every submission must succeed.
func intakeLoad(servers []*server, key string, d time.Duration) (*latencies, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	lat, ok, bad := load(ctx, intakeConns, func(c *http.Client, i int) (int, error) {
		st, _, err := post(c, servers[i%len(servers)].url()+"/v1/orders", key, orderBody(i))
		return st, err
	})
	if bad > 0 {
		return nil, 0, fmt.Errorf("%d order submissions failed", bad)
	}
	return lat, ok, nil
}

// intakeRows are the table's two intake lines for one engine's run.
func intakeRows(on string, lat, floorLat *latencies, ok, floorOK int, d time.Duration) []row {
	secs := d.Seconds()
	husky, floor := float64(ok)/secs, float64(floorOK)/secs
	return []row{
		{fmt.Sprintf("intake on %s: orders/s, %d connections (validation, order, 2 outbox rows, 3 audit entries)", on, intakeConns), fmt.Sprintf("%.0f", husky), fmt.Sprintf("%.0f (gin + one-row insert)", floor), fmt.Sprintf("%.2f×", husky/floor), "≥ 0.7×"},
		{fmt.Sprintf("intake on %s: latency p50 / p99", on), ms(lat.pct(50)) + " / " + ms(lat.pct(99)), ms(floorLat.pct(50)) + " / " + ms(floorLat.pct(99)), "", ""},
	}
}

// payload is a realistic order.created body for the floor client.
var payload = []byte(`{"type":"order.created","timestamp":"2026-11-28T10:00:00Z","data":{"order_id":"ord_01a2b3c4d5e6f708192a3b4c5d6e7f80","items":[{"sku":"HE700R-32TB","quantity":2}],"contact":{"phone":"+4533123456","email":"jane@example.dk"},"address":{"organization":"Example A/S","line1":"Banemarksvej 50","city":"Brøndby","postal_code":"2605","country":"DK"}}}`)

// plainClient posts n bodies to url from conns goroutines and returns the
// requests per second.
func plainClient(url string, n, conns int) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: conns}
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				res, err := client.Post(url, "application/json", strings.NewReader(string(payload)))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	return float64(n) / time.Since(start).Seconds()
}

// firstArrival wraps a receiver's answer to note the first delivery's time.
type arrivals struct {
	first, last atomic.Int64
	count       atomic.Int64
}

func (a *arrivals) answer(w http.ResponseWriter, _ *http.Request) bool {
	now := time.Now().UnixNano()
	a.first.CompareAndSwap(0, now)
	a.last.Store(now)
	a.count.Add(1)
	w.WriteHeader(http.StatusOK)
	return true
}

// deliveryWorkers is HUSKY_DELIVERY_WORKERS in the delivery scenarios,
// and the plain client's concurrency.
const deliveryWorkers = 32

// benchDelivery: deliveries per second to a loopback receiver answering
// 200 at once, signed and recorded, against a plain Go client posting the
// same bodies with the same concurrency (32 workers).
func benchDelivery(cfg benchConfig) ([]row, error) {
	arr := &arrivals{}
	w, _, s, done, err := serveWorld(cfg, arr.answer, false, fmt.Sprintf("HUSKY_DELIVERY_WORKERS=%d", deliveryWorkers))
	if err != nil {
		return nil, err
	}
	defer done()
	rate, n, err := deliver(w, []*server{s}, arr, cfg.deliveries)
	if err != nil {
		return nil, err
	}
	floor, err := deliveryFloor(n)
	if err != nil {
		return nil, err
	}
	return []row{deliveryRow("SQLite", n, rate, floor, "≥ 0.5×")}, nil
}

// deliver submits orders with the recipients disabled, spread over
// servers, then enables them and times the arrivals at arr: the rate
// from the first arrival to the last, and how many arrived (two per
// order). The 40,000 orders of make bench make 80,000 webhooks: long
// enough (about 6 s for husky on SQLite, 1.6 s for the floor) that both
// rates are steady; with 20,000 the floor swung 35,000-52,000/s.
func deliver(w *world, servers []*server, arr *arrivals, orders int) (float64, int64, error) {
	var sent atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	_, _, bad := load(ctx, intakeConns, func(c *http.Client, i int) (int, error) {
		if sent.Add(1) > int64(orders) {
			cancel()
			return 201, nil
		}
		st, _, err := post(c, servers[i%len(servers)].url()+"/v1/orders", w.resellerKey, orderBody(i))
		return st, err
	})
	if bad > 0 {
		return 0, 0, fmt.Errorf("%d order submissions failed", bad)
	}
	if err := w.recipients(true); err != nil {
		return 0, 0, err
	}
	for deadline := time.Now().Add(10 * time.Minute); arr.count.Load() < int64(2*orders); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("only %d of %d deliveries arrived", arr.count.Load(), 2*orders)
		}
	}
	if err := servers[0].waitBacklog(time.Minute); err != nil {
		return 0, 0, err
	}
	elapsed := time.Duration(arr.last.Load() - arr.first.Load())
	n := arr.count.Load()
	return float64(n) / elapsed.Seconds(), n, nil
}

// deliveryFloor is a plain Go client posting n bodies to a loopback
// receiver from deliveryWorkers goroutines, in requests per second.
func deliveryFloor(n int64) (float64, error) {
	rc, err := newReceiver(nil)
	if err != nil {
		return 0, err
	}
	defer rc.close()
	return plainClient(rc.url("/floor"), int(n), deliveryWorkers), nil
}

func deliveryRow(on string, n int64, rate, floor float64, target string) row {
	return row{fmt.Sprintf("delivery on %s: deliveries/s, %d webhooks to a loopback receiver answering 200 (signed, sent, recorded)", on, n),
		fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f (plain Go client, %d workers)", floor, deliveryWorkers), fmt.Sprintf("%.2f×", rate/floor), target}
}

// benchLatency: time from an order's commit to its arrival at the receiver
// at 500 orders per second; the floor is a plain client's send-to-arrival
// time at the same rate.
func benchLatency(cfg benchConfig) ([]row, error) {
	w, rc, s, done, err := serveWorld(cfg, nil, true)
	if err != nil {
		return nil, err
	}
	defer done()
	paced := func(send func(i int)) {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var wg sync.WaitGroup
		end := time.Now().Add(cfg.duration)
		for i := 0; time.Now().Before(end); i++ {
			<-tick.C
			wg.Add(1)
			go func() { defer wg.Done(); send(i) }()
		}
		wg.Wait()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	paced(func(i int) { post(client, s.url()+"/v1/orders", w.resellerKey, orderBody(i)) })
	if err := s.waitBacklog(time.Minute); err != nil {
		return nil, err
	}
	floorRC, err := newReceiver(nil)
	if err != nil {
		return nil, err
	}
	defer floorRC.close()
	paced(func(i int) {
		body := strings.Replace(string(payload), "2026-11-28T10:00:00Z", time.Now().UTC().Format(time.RFC3339Nano), 1)
		post(client, floorRC.url("/floor"), "", []byte(body))
	})
	return []row{{fmt.Sprintf("latency: order commit → arrival at 500 orders/s (%d webhooks), p50 / p99", rc.lat.n()),
		ms(rc.lat.pct(50)) + " / " + ms(rc.lat.pct(99)), ms(floorRC.lat.pct(50)) + " / " + ms(floorRC.lat.pct(99)) + " (plain client send → arrival)", "", "p99 < 50 ms"}}, nil
}

// benchBacklog: a backlog of pending deliveries (receiver down), then the
// receiver comes up: time to drain and the service's peak memory.
func benchBacklog(cfg benchConfig) ([]row, error) {
	arr := &arrivals{}
	w, _, dir, cleanup, err := tempWorld(cfg, arr.answer)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := w.recipients(false); err != nil {
		return nil, err
	}
	// Idle memory, for comparison, after one order.
	s, err := startServer(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	st, body, err := post(http.DefaultClient, s.url()+"/v1/orders", w.resellerKey, orderBody(1))
	if err != nil || st != 201 {
		return nil, fmt.Errorf("order: %d %s %v", st, body, err)
	}
	time.Sleep(time.Second)
	idle := s.peakRSS()
	if err := s.stop(); err != nil {
		return nil, err
	}
	// The backlog, written straight into the outbox as the receiver-down
	// period would have left it. The rows name no order: messages about
	// one order go one at a time, and a real backlog spreads over many
	// orders, which this stands for without creating a million orders.
	db, err := store.Open(context.Background(), w.db)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := sharingtest.WriteBacklog(context.Background(), db, cfg.backlog, w.logistics, w.manufacturer, payload,
		"2026-01-01T00:00:00.000000Z"); err != nil {
		db.Close()
		return nil, err
	}
	db.Close()
	fmt.Fprintf(os.Stderr, "  %d pending deliveries written in %v\n", cfg.backlog, time.Since(start).Round(time.Millisecond))
	if err := w.recipients(true); err != nil {
		return nil, err
	}
	s, err = startServer(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer s.stop()
	t0 := time.Now()
	if err := s.waitBacklog(60 * time.Minute); err != nil {
		return nil, err
	}
	drain := time.Since(t0)
	peak := s.peakRSS()
	rate := float64(cfg.backlog) / drain.Seconds()
	return []row{
		{fmt.Sprintf("backlog: drain %d pending deliveries once the receiver is up", cfg.backlog), fmt.Sprintf("%v (%.0f/s)", drain.Round(time.Second), rate), "", "", ""},
		{"backlog: peak memory (VmHWM) while draining", fmt.Sprintf("%.0f MB", float64(peak)/1e6), fmt.Sprintf("%.0f MB (same binary, idle)", float64(idle)/1e6), "", "< 200 MB, flat with backlog"},
	}, nil
}

// benchPurge: time to purge P orders with their deliveries, and the API's
// p99 for GET /v1/orders/{id} during the purge next to idle.
func benchPurge(cfg benchConfig) ([]row, error) {
	w, _, dir, cleanup, err := tempWorld(cfg, nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// P orders closed in 2019 (purgeable now), each disclosed to both
	// recipients, imported in one go.
	path := filepath.Join(dir, "import.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(f)
	for i := range cfg.purge {
		var m map[string]any
		json.Unmarshal(orderBody(i), &m)
		m["reseller_id"], m["status"] = w.reseller, "delivered"
		m["created_at"], m["closed_at"] = "2019-03-01T10:00:00Z", "2019-03-05T10:00:00Z"
		m["disclosed_to"] = []string{w.logistics, w.manufacturer}
		b, _ := json.Marshal(m)
		bw.Write(append(b, '\n'))
	}
	bw.Flush()
	f.Close()
	start := time.Now()
	imp, err := husky(cfg.bin, w.env, "orders", "import", path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  imported %d orders in %v\n", cfg.purge, time.Since(start).Round(time.Millisecond))
	ids := imp["order_ids"].([]any)
	s, err := startServer(cfg.bin, w.env, freeAddr(), filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer s.stop()
	get := func(ctx context.Context) *latencies {
		lat, _, _ := load(ctx, 8, func(c *http.Client, i int) (int, error) {
			req, _ := http.NewRequest("GET", s.url()+"/v1/orders/"+ids[rand.IntN(len(ids))].(string), nil)
			req.Header.Set("Authorization", "Bearer "+w.resellerKey)
			res, err := c.Do(req)
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, nil
		})
		return lat
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	idle := get(ctx)
	cancel()
	st, body, err := post(http.DefaultClient, s.url()+"/v1/purge/runs", w.financeKey, nil)
	if err != nil || st != 202 {
		return nil, fmt.Errorf("start purge: %d %s %v", st, body, err)
	}
	var run struct {
		ID, Status string
		StartedAt  time.Time  `json:"started_at"`
		FinishedAt *time.Time `json:"finished_at"`
		Counts     struct{ Erased, Notices int }
	}
	json.Unmarshal(body, &run)
	ctx, cancel = context.WithCancel(context.Background())
	during := make(chan *latencies)
	go func() { during <- get(ctx) }()
	for run.Status != "completed" {
		time.Sleep(200 * time.Millisecond)
		req, _ := http.NewRequest("GET", s.url()+"/v1/purge/runs/"+run.ID, nil)
		req.Header.Set("Authorization", "Bearer "+w.financeKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			return nil, err
		}
		json.NewDecoder(res.Body).Decode(&run)
		res.Body.Close()
		if run.Status == "failed" {
			cancel()
			return nil, fmt.Errorf("purge failed")
		}
	}
	cancel()
	dur := <-during
	took := run.FinishedAt.Sub(run.StartedAt)
	return []row{
		{fmt.Sprintf("purge: erase %d orders with their deliveries (%d erasure notices queued)", run.Counts.Erased, run.Counts.Notices), took.Round(100 * time.Millisecond).String(), "", "", ""},
		{"purge: GET /v1/orders/{id} p99 during the purge, 8 connections", ms(dur.pct(99)), ms(idle.pct(99)) + " (idle)", fmt.Sprintf("%.1f×", float64(dur.pct(99))/float64(idle.pct(99))), ""},
	}, nil
}
