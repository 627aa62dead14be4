package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/milestone/husky/store/storetest"
)

// The end-to-end rows: orders submitted at full load from intakeConns
// connections, with both recipients enabled and answering 200 at once,
// until every webhook of every accepted order has arrived. What counts is
// orders whose webhooks all arrived per second, from the first submission
// to the last arrival; beside it the engine's intake floor (gin + one-row
// insert) from the same run, since an order cannot go end to end faster
// than it can be taken in.

// benchEndToEnd: the end-to-end row on SQLite, and on PostgreSQL with one
// instance when a server is given.
func benchEndToEnd(cfg benchConfig) ([]row, error) {
	var rows []row
	dir, err := os.MkdirTemp("", "husky-floor")
	if err != nil {
		return nil, err
	}
	_, floorOK, err := intakeFloor(filepath.Join(dir, "floor.db"), cfg.duration)
	os.RemoveAll(dir)
	if err != nil {
		return nil, err
	}
	arr := &arrivals{}
	w, _, s, done, err := serveWorld(cfg, arr.answer, true, fmt.Sprintf("HUSKY_DELIVERY_WORKERS=%d", deliveryWorkers))
	if err != nil {
		return nil, err
	}
	r, err := endToEnd(w, []*server{s}, arr, cfg.duration)
	done()
	if err != nil {
		return nil, err
	}
	rows = append(rows, r.row("SQLite", floorOK, cfg.duration))
	if cfg.postgres == "" {
		return append(rows, noPostgres("end to end")...), nil
	}
	dsn, drop, err := storetest.CreatePostgres(cfg.postgres, "husky_bench_floor_")
	if err != nil {
		return nil, err
	}
	_, floorOK, err = intakeFloor(dsn, cfg.duration)
	if derr := drop(); err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	arr = &arrivals{}
	w, servers, done, err := pgServe(cfg, arr.answer, 1, fmt.Sprintf("HUSKY_DELIVERY_WORKERS=%d", deliveryWorkers))
	if err != nil {
		return nil, err
	}
	if err = w.recipients(true); err == nil {
		r, err = endToEnd(w, servers, arr, cfg.duration)
	}
	done()
	if err != nil {
		return nil, err
	}
	return append(rows, r.row(postgresOn(1), floorOK, cfg.duration)), nil
}

// endToEndRun is what one end-to-end run measured.
type endToEndRun struct {
	orders  int
	elapsed time.Duration // first submission to last arrival
}

// endToEnd submits orders for d, then waits for the two webhooks of each.
func endToEnd(w *world, servers []*server, arr *arrivals, d time.Duration) (endToEndRun, error) {
	start := time.Now()
	_, ok, err := intakeLoad(servers, w.resellerKey, d)
	if err != nil {
		return endToEndRun{}, err
	}
	for deadline := time.Now().Add(10 * time.Minute); arr.count.Load() < int64(2*ok); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return endToEndRun{}, fmt.Errorf("only %d of %d webhooks arrived", arr.count.Load(), 2*ok)
		}
	}
	return endToEndRun{orders: ok, elapsed: time.Unix(0, arr.last.Load()).Sub(start)}, nil
}

func (r endToEndRun) row(on string, floorOK int, d time.Duration) row {
	rate, floor := float64(r.orders)/r.elapsed.Seconds(), float64(floorOK)/d.Seconds()
	return row{fmt.Sprintf("end to end on %s: orders/s with both webhooks arrived (%d orders submitted for %v, last arrival after %.1f s)", on, r.orders, d, r.elapsed.Seconds()),
		fmt.Sprintf("%.0f (%.0f webhooks/s)", rate, 2*rate), fmt.Sprintf("%.0f (intake floor: gin + one-row insert)", floor), fmt.Sprintf("%.2f×", rate/floor), ""}
}
