package retention

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/milestone/husky/orders"
)

// Report is a dry run of a purge as of a date: what would be erased, what
// is kept only by a legal hold, and what never reached a final state though
// older than the retention period (listed for a decision, not kept
// silently). It holds ids, dates and fiscal years, never personal values.
type Report struct {
	AsOf        string                `json:"as_of"`
	FiscalYears []FiscalYearCount     `json:"fiscal_years"`
	Purgeable   []orders.RetentionRow `json:"purgeable"`
	Held        []orders.RetentionRow `json:"held"`
	Stale       []orders.RetentionRow `json:"stale"`
	// StaleAction says how an operator closes a stale order, when there
	// are any.
	StaleAction string `json:"stale_action,omitempty"`
}

// staleAction is how a stale order is closed; the retention clock then
// counts from the time given.
const staleAction = "close each stale order with `husky orders close ID --as cancelled|delivered [--at TIME] --reason TEXT` " +
	"or POST /v1/admin/orders/{id}/close; its retention then counts from that time"

// FiscalYearCount counts one fiscal year's orders by category.
type FiscalYearCount struct {
	FiscalYear int `json:"fiscal_year"`
	Purgeable  int `json:"purgeable"`
	Held       int `json:"held"`
	Stale      int `json:"stale"`
}

// Reporter builds reports from the orders.
type Reporter struct {
	Orders   *orders.Service
	Calendar Calendar
}

// Report builds the report as of the whole day asOf (a date in the fiscal
// time zone). It changes nothing.
func (r *Reporter) Report(ctx context.Context, asOf time.Time) (Report, error) {
	cut := r.Calendar.EndOfDay(asOf)
	rep := Report{AsOf: asOf.Format(time.DateOnly), Purgeable: []orders.RetentionRow{}, Held: []orders.RetentionRow{}, Stale: []orders.RetentionRow{}}
	counts := map[int]*FiscalYearCount{}
	count := func(fy int) *FiscalYearCount {
		if counts[fy] == nil {
			counts[fy] = &FiscalYearCount{FiscalYear: fy}
		}
		return counts[fy]
	}
	after := ""
	for {
		page, err := r.Orders.PastRetention(ctx, cut, after, 5000)
		if err != nil {
			return Report{}, err
		}
		for _, o := range page {
			if !o.Held {
				rep.Purgeable = append(rep.Purgeable, o)
				count(*o.FiscalYear).Purgeable++
			}
		}
		if len(page) < 5000 {
			break
		}
		after = page[len(page)-1].OrderID
	}
	held, err := r.Orders.HeldOrders(ctx)
	if err != nil {
		return Report{}, err
	}
	for _, o := range held {
		rep.Held = append(rep.Held, o)
		fy := r.Calendar.FiscalYear(o.CreatedAt)
		if o.FiscalYear != nil {
			fy = *o.FiscalYear
		}
		count(fy).Held++
	}
	// An open order is stale when, had it closed the day it was created,
	// its retention would already have ended.
	open, err := r.Orders.OpenSince(ctx, cut.AddDate(-r.Calendar.Years, 0, 0))
	if err != nil {
		return Report{}, err
	}
	for _, o := range open {
		fy, after := r.Calendar.PurgeAfter(o.CreatedAt)
		if after.Before(cut) {
			o.FiscalYear = &fy
			rep.Stale = append(rep.Stale, o)
			count(fy).Stale++
		}
	}
	for _, c := range counts {
		rep.FiscalYears = append(rep.FiscalYears, *c)
	}
	sort.Slice(rep.FiscalYears, func(i, j int) bool { return rep.FiscalYears[i].FiscalYear < rep.FiscalYears[j].FiscalYear })
	if rep.FiscalYears == nil {
		rep.FiscalYears = []FiscalYearCount{}
	}
	if len(rep.Stale) > 0 {
		rep.StaleAction = staleAction
	}
	return rep, nil
}

// WriteCSV writes the report with one row per order and a category column.
func (rep Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"category", "order_id", "reseller_id", "status", "fiscal_year", "created_at", "closed_at", "purge_after", "legal_hold"})
	for _, part := range []struct {
		cat  string
		rows []orders.RetentionRow
	}{{"purgeable", rep.Purgeable}, {"held", rep.Held}, {"stale", rep.Stale}} {
		for _, o := range part.rows {
			_ = cw.Write([]string{part.cat, o.OrderID, o.ResellerID, string(o.Status), optInt(o.FiscalYear),
				o.CreatedAt.Format(time.RFC3339), optTime(o.ClosedAt), optTime(o.PurgeAfter), strconv.FormatBool(o.Held)})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func optInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Summary is the report's counts per fiscal year without its order lists:
// what a chart needs, read with one aggregate query however many orders
// are past retention.
func (r *Reporter) Summary(ctx context.Context, asOf time.Time) (Report, error) {
	cut := r.Calendar.EndOfDay(asOf)
	purgeable, err := r.Orders.PastRetentionCounts(ctx, cut)
	if err != nil {
		return Report{}, err
	}
	rep := Report{AsOf: asOf.Format(time.DateOnly), Purgeable: []orders.RetentionRow{}}
	counts := map[int]*FiscalYearCount{}
	count := func(fy int) *FiscalYearCount {
		if counts[fy] == nil {
			counts[fy] = &FiscalYearCount{FiscalYear: fy}
		}
		return counts[fy]
	}
	for fy, n := range purgeable {
		count(fy).Purgeable = n
	}
	if rep.Held, err = r.held(ctx); err != nil {
		return Report{}, err
	}
	for _, o := range rep.Held {
		count(*o.FiscalYear).Held++
	}
	if rep.Stale, err = r.stale(ctx, cut); err != nil {
		return Report{}, err
	}
	for _, o := range rep.Stale {
		count(*o.FiscalYear).Stale++
	}
	for _, c := range counts {
		rep.FiscalYears = append(rep.FiscalYears, *c)
	}
	sort.Slice(rep.FiscalYears, func(i, j int) bool { return rep.FiscalYears[i].FiscalYear < rep.FiscalYears[j].FiscalYear })
	if rep.FiscalYears == nil {
		rep.FiscalYears = []FiscalYearCount{}
	}
	if len(rep.Stale) > 0 {
		rep.StaleAction = staleAction
	}
	return rep, nil
}

// held returns the orders under legal hold, each with the fiscal year it
// counts in (its closing year, or its creation year while open).
func (r *Reporter) held(ctx context.Context) ([]orders.RetentionRow, error) {
	held, err := r.Orders.HeldOrders(ctx)
	if err != nil {
		return nil, err
	}
	for i, o := range held {
		if o.FiscalYear == nil {
			fy := r.Calendar.FiscalYear(o.CreatedAt)
			held[i].FiscalYear = &fy
		}
	}
	return held, nil
}

// stale returns the orders that never reached a final state and would be
// past retention had they closed the day they were created.
func (r *Reporter) stale(ctx context.Context, cut time.Time) ([]orders.RetentionRow, error) {
	open, err := r.Orders.OpenSince(ctx, cut.AddDate(-r.Calendar.Years, 0, 0))
	if err != nil {
		return nil, err
	}
	out := []orders.RetentionRow{}
	for _, o := range open {
		fy, after := r.Calendar.PurgeAfter(o.CreatedAt)
		if after.Before(cut) {
			o.FiscalYear = &fy
			out = append(out, o)
		}
	}
	return out, nil
}

// Categories of the report.
const (
	CategoryPurgeable = "purgeable"
	CategoryHeld      = "held"
	CategoryStale     = "stale"
)

// Page returns a page of one category's orders of fiscal year fy as of
// asOf, after the id cursor, and whether more follow.
func (r *Reporter) Page(ctx context.Context, asOf time.Time, category string, fy int, after string, limit int) ([]orders.RetentionRow, bool, error) {
	cut := r.Calendar.EndOfDay(asOf)
	var rows []orders.RetentionRow
	var err error
	switch category {
	case CategoryPurgeable:
		rows, err = r.Orders.PastRetentionInYear(ctx, cut, fy, after, limit+1)
	case CategoryHeld:
		rows, err = r.held(ctx)
	case CategoryStale:
		rows, err = r.stale(ctx, cut)
	default:
		return nil, false, fmt.Errorf("report category %q", category)
	}
	if err != nil {
		return nil, false, err
	}
	if category != CategoryPurgeable {
		var in []orders.RetentionRow
		for _, o := range rows {
			if *o.FiscalYear == fy && o.OrderID > after {
				in = append(in, o)
			}
		}
		rows = in
	}
	if len(rows) > limit {
		return rows[:limit], true, nil
	}
	return rows, false, nil
}
