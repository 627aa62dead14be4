package main

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/milestone/husky/store/storetest"
)

// The PostgreSQL rows: intake and delivery with one and with two
// instances of husky serve on one database, each beside its floor from
// the same run on the same server. Each run gets a database of its own,
// dropped afterwards.

// noPostgres is the row standing in for the PostgreSQL rows when no
// server was given.
func noPostgres(what string) []row {
	return []row{{what + " on PostgreSQL: skipped, no server (set HUSKY_BENCH_POSTGRES or HUSKY_TEST_POSTGRES, or -postgres)", "", "", "", ""}}
}

// pgServe creates a database on cfg.postgres, puts a world on it (its
// keyring and audit key in a temporary directory, shared by every
// instance, as in production) and starts instances of husky serve on it.
// done stops them, drops the database and removes the directory.
func pgServe(cfg benchConfig, answer func(w http.ResponseWriter, r *http.Request) bool, instances int, env ...string) (*world, []*server, func(), error) {
	dsn, drop, err := storetest.CreatePostgres(cfg.postgres, "husky_bench_")
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err := os.MkdirTemp("", "husky-bench-pg")
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	rc, err := newReceiver(answer)
	if err != nil {
		drop()
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	var servers []*server
	done := func() {
		for _, s := range servers {
			s.stop()
		}
		rc.close()
		if err := drop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.RemoveAll(dir)
	}
	w, err := newWorldOn(cfg.bin, dir, dsn, rc, env...)
	if err == nil {
		err = w.recipients(false)
	}
	for i := 0; err == nil && i < instances; i++ {
		var s *server
		if s, err = startServer(cfg.bin, w.env, freeAddr(), filepath.Join(dir, fmt.Sprintf("serve-%d.log", i))); err == nil {
			servers = append(servers, s)
		}
	}
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return w, servers, done, nil
}

// benchIntakePostgres: intake on PostgreSQL, one instance and then two
// on one database with the load spread over both, against the same gin +
// one-row insert floor on the same server.
func benchIntakePostgres(cfg benchConfig) ([]row, error) {
	if cfg.postgres == "" {
		return noPostgres("intake"), nil
	}
	dsn, drop, err := storetest.CreatePostgres(cfg.postgres, "husky_bench_floor_")
	if err != nil {
		return nil, err
	}
	floorLat, floorOK, err := intakeFloor(dsn, cfg.duration)
	if derr := drop(); err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, n := range cfg.pgInstances() {
		w, servers, done, err := pgServe(cfg, nil, n)
		if err != nil {
			return nil, err
		}
		var before, after [2]float64
		before[0], before[1], err = trips(servers)
		const held, lag = "husky_db_shared_lock_held_seconds", "husky_audit_integration_lag_seconds"
		heldBefore, herr := histogramOf(servers, held)
		lagBefore, lerr0 := histogramOf(servers, lag)
		lat, ok, lerr := intakeLoad(servers, w.resellerKey, cfg.duration)
		if err == nil {
			after[0], after[1], err = trips(servers)
		}
		// What the integrator still has to do for these orders counts too.
		time.Sleep(time.Second)
		heldAfter, herr2 := histogramOf(servers, held)
		lagAfter, lerr1 := histogramOf(servers, lag)
		err = errors.Join(err, herr, herr2, lerr0, lerr1)
		done()
		if err = errors.Join(lerr, err); err != nil {
			return nil, err
		}
		rows = append(rows, intakeRows(postgresOn(n), lat, floorLat, ok, floorOK, cfg.duration)...)
		rows = append(rows, tripsRow(postgresOn(n), before, after, ok), lockRow(postgresOn(n), heldAfter.since(heldBefore), ok),
			lagRow(postgresOn(n), lagAfter.since(lagBefore)))
	}
	return rows, nil
}

// benchDeliveryPostgres: delivery on PostgreSQL with one instance and
// with two claiming from one outbox, against the plain client.
func benchDeliveryPostgres(cfg benchConfig) ([]row, error) {
	if cfg.postgres == "" {
		return noPostgres("delivery"), nil
	}
	var rows []row
	for _, n := range cfg.pgInstances() {
		arr := &arrivals{}
		w, servers, done, err := pgServe(cfg, arr.answer, n, fmt.Sprintf("HUSKY_DELIVERY_WORKERS=%d", deliveryWorkers))
		if err != nil {
			return nil, err
		}
		rate, got, err := deliver(w, servers, arr, cfg.deliveries)
		done()
		if err != nil {
			return nil, err
		}
		floor, err := deliveryFloor(got)
		if err != nil {
			return nil, err
		}
		target := ""
		if n == 1 {
			target = "≥ 0.4×"
		}
		rows = append(rows, deliveryRow(postgresOn(n), got, rate, floor, target))
	}
	return rows, nil
}

func postgresOn(instances int) string {
	if instances == 1 {
		return "PostgreSQL, 1 instance"
	}
	return fmt.Sprintf("PostgreSQL, %d instances", instances)
}

// pgInstances is how many instances the PostgreSQL rows run, in turn.
func (c benchConfig) pgInstances() []int {
	if c.instances == 1 {
		return []int{1}
	}
	return []int{1, 2}
}

// trips sums, over servers, the statements sent to PostgreSQL and the
// transactions committed, as their metrics count them.
func trips(servers []*server) (statements, commits float64, err error) {
	for _, s := range servers {
		st, err := s.metric("husky_db_statements_total")
		if err != nil {
			return 0, 0, err
		}
		c, err := s.metric("husky_db_commits_total")
		if err != nil {
			return 0, 0, err
		}
		statements, commits = statements+st, commits+c
	}
	return statements, commits, nil
}

// tripsRow is the round trips and commits each order cost, everything
// the instances sent while orders came in (the integrator's batches
// included) over the orders accepted.
func tripsRow(on string, before, after [2]float64, orders int) row {
	n := float64(max(orders, 1))
	return row{fmt.Sprintf("intake on %s: round trips / commits per order (all the instances sent)", on),
		fmt.Sprintf("%.1f / %.2f", (after[0]-before[0])/n, (after[1]-before[1])/n), "1 / 1", "", ""}
}

// histogram is a histogram metric added up over the instances: the total,
// the count, and each bucket's cumulative count by upper bound (the
// shared-lock time, husky_db_shared_lock_held_seconds; the audit
// integration lag).
type histogram struct {
	sum, count float64
	buckets    map[float64]float64
}

// histogramOf reads the histogram name from every server's metrics and
// adds them up.
func histogramOf(servers []*server, name string) (histogram, error) {
	h := histogram{buckets: map[float64]float64{}}
	for _, s := range servers {
		lines, err := s.metricLines(name)
		if err != nil {
			return h, err
		}
		for _, l := range lines {
			i := strings.LastIndexByte(l, ' ')
			v, err := strconv.ParseFloat(l[i+1:], 64)
			if err != nil {
				return h, fmt.Errorf("metric line %q: %w", l, err)
			}
			switch {
			case strings.HasPrefix(l, name+"_sum"):
				h.sum += v
			case strings.HasPrefix(l, name+"_count"):
				h.count += v
			case strings.HasPrefix(l, name+"_bucket"):
				le := l[strings.Index(l, `le="`)+4:]
				bound, err := strconv.ParseFloat(le[:strings.IndexByte(le, '"')], 64)
				if err != nil {
					return h, fmt.Errorf("metric line %q: %w", l, err)
				}
				h.buckets[bound] += v
			}
		}
	}
	return h, nil
}

// since is what was held between an earlier reading and h.
func (h histogram) since(before histogram) histogram {
	d := histogram{sum: h.sum - before.sum, count: h.count - before.count, buckets: map[float64]float64{}}
	for b, v := range h.buckets {
		d.buckets[b] = v - before.buckets[b]
	}
	return d
}

// quantile is the upper bound of the bucket that holds the q-th holding.
func (h histogram) quantile(q float64) float64 {
	bounds := make([]float64, 0, len(h.buckets))
	for b := range h.buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	for _, b := range bounds {
		if h.buckets[b] >= q*h.count {
			return b
		}
	}
	return math.Inf(1)
}

// lockRow is the time each order spent holding a lock every instance
// shares: an order's own transaction takes none, so what is shown is the
// integrator's holding spread over the orders, and each holding's p50 and
// p99 (bucket bounds).
func lockRow(on string, h histogram, orders int) row {
	perOrder := h.sum / float64(max(orders, 1)) * 1e6
	held := "none taken"
	if h.count > 0 {
		held = fmt.Sprintf("%.0f holdings, p50 ≤ %s, p99 ≤ %s", h.count, ms(secs(h.quantile(0.5))), ms(secs(h.quantile(0.99))))
	}
	return row{fmt.Sprintf("intake on %s: µs per order holding a lock all instances share (the order's transaction takes none; the integrator's batches, spread over the orders)", on),
		fmt.Sprintf("%.1f µs", perOrder), held, "", ""}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// lagRow is the audit integration lag at full intake: from an entry's
// recording to its place in the tree, p50 and p99 (bucket bounds).
func lagRow(on string, h histogram) row {
	return row{fmt.Sprintf("intake on %s: audit integration lag p50 / p99 (%.0f entries)", on, h.count),
		"≤ " + ms(secs(h.quantile(0.5))) + " / ≤ " + ms(secs(h.quantile(0.99))), "", "", "p99 < 1 s"}
}
