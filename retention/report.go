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
	AsOf        string            `json:"as_of"`
	FiscalYears []FiscalYearCount `json:"fiscal_years"`
	Purgeable   []Row             `json:"purgeable"`
	Held        []Row             `json:"held"`
	Stale       []Row             `json:"stale"`
	// StaleAction says how an operator closes a stale order, when there
	// are any.
	StaleAction string `json:"stale_action,omitempty"`
	// SubjectRequests are the completed data-subject requests whose
	// records the purge would delete (their own retention over), and how
	// many past it are kept.
	SubjectRequests RequestsDue `json:"subject_requests"`
}

// RequestsDue is what a purge as of a date would do to the records of
// completed subject requests.
type RequestsDue struct {
	RetentionYears int `json:"retention_years"`
	// Due are the requests past their retention that nothing needs.
	Due []string `json:"due"`
	// Kept counts those past it that a restriction still in force, an
	// erasure still scheduled or a legal hold keeps.
	Kept int `json:"kept"`
}

// Row is one order of a report: what orders knows of it, and whether a
// legal hold keeps it.
type Row struct {
	orders.RetentionRow
	Held bool `json:"legal_hold"`
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

// Reporter builds reports from the orders and the legal holds.
type Reporter struct {
	Orders   *orders.Service
	Holds    *Holds
	Calendar Calendar
	// Requests are the subject requests' records (nil: not reported).
	Requests RequestRecords
}

// counter collects a report's counts per fiscal year.
type counter map[int]*FiscalYearCount

func (c counter) at(fy int) *FiscalYearCount {
	if c[fy] == nil {
		c[fy] = &FiscalYearCount{FiscalYear: fy}
	}
	return c[fy]
}

func (c counter) sorted() []FiscalYearCount {
	out := []FiscalYearCount{}
	for _, v := range c {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FiscalYear < out[j].FiscalYear })
	return out
}

// pastRetention pages through the orders past retention at cut that no
// legal hold keeps, in [from, to) of closing time as well, calling fn with
// each page; fn returns false to stop.
func (r *Reporter) pastRetention(ctx context.Context, cut, from, to time.Time, after string, size int, fn func([]Row) bool) error {
	_, boundary := r.Calendar.LastPurgeable(cut)
	if to.IsZero() || boundary.Before(to) {
		to = boundary
	}
	if !from.Before(to) && !from.IsZero() {
		return nil
	}
	for {
		page, err := r.Orders.ClosedBetween(ctx, from, to, after, size)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		ids := make([]string, len(page))
		for i, o := range page {
			ids[i] = o.OrderID
		}
		held, err := r.Holds.Among(ctx, r.Holds.DB.Reader, ids)
		if err != nil {
			return err
		}
		rows := make([]Row, 0, len(page))
		for _, o := range page {
			if !held[o.OrderID] {
				rows = append(rows, Row{RetentionRow: o})
			}
		}
		if !fn(rows) || len(page) < size {
			return nil
		}
		after = page[len(page)-1].OrderID
	}
}

// Report builds the report as of the whole day asOf (a date in the fiscal
// time zone). It changes nothing.
func (r *Reporter) Report(ctx context.Context, asOf time.Time) (Report, error) {
	cut := r.Calendar.EndOfDay(asOf)
	rep := Report{AsOf: asOf.Format(time.DateOnly), Purgeable: []Row{}}
	counts := counter{}
	err := r.pastRetention(ctx, cut, time.Time{}, time.Time{}, "", 5000, func(rows []Row) bool {
		for _, o := range rows {
			rep.Purgeable = append(rep.Purgeable, o)
			counts.at(*o.FiscalYear).Purgeable++
		}
		return true
	})
	if err != nil {
		return Report{}, err
	}
	if rep.Held, err = r.held(ctx); err != nil {
		return Report{}, err
	}
	for _, o := range rep.Held {
		counts.at(*o.FiscalYear).Held++
	}
	if rep.Stale, err = r.stale(ctx, cut); err != nil {
		return Report{}, err
	}
	for _, o := range rep.Stale {
		counts.at(*o.FiscalYear).Stale++
	}
	rep.FiscalYears = counts.sorted()
	if len(rep.Stale) > 0 {
		rep.StaleAction = staleAction
	}
	if rep.SubjectRequests, err = r.requestsDue(ctx, asOf); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// requestsDue is the report's part on the records of completed subject
// requests.
func (r *Reporter) requestsDue(ctx context.Context, asOf time.Time) (RequestsDue, error) {
	if r.Requests == nil {
		return RequestsDue{Due: []string{}}, nil
	}
	return r.Requests.RequestsDueAsOf(ctx, asOf)
}

// WriteCSV writes the report with one row per order and a category column.
func (rep Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"category", "order_id", "reseller_id", "status", "fiscal_year", "created_at", "closed_at", "purge_after", "legal_hold"})
	for _, part := range []struct {
		cat  string
		rows []Row
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
// what a chart needs. The purgeable counts are one index range count per
// fiscal year past retention, however many orders they hold.
func (r *Reporter) Summary(ctx context.Context, asOf time.Time) (Report, error) {
	cut := r.Calendar.EndOfDay(asOf)
	rep := Report{AsOf: asOf.Format(time.DateOnly), Purgeable: []Row{}}
	counts := counter{}
	held, err := r.held(ctx)
	if err != nil {
		return Report{}, err
	}
	rep.Held = held
	first, err := r.Orders.FirstClosed(ctx)
	if err != nil {
		return Report{}, err
	}
	last, boundary := r.Calendar.LastPurgeable(cut)
	if !first.IsZero() {
		for fy := r.Calendar.FiscalYear(first); fy <= last; fy++ {
			n, err := r.Orders.CountClosed(ctx, r.Calendar.YearStart(fy), r.Calendar.YearEnd(fy))
			if err != nil {
				return Report{}, err
			}
			if n > 0 {
				counts.at(fy).Purgeable = n
			}
		}
	}
	for _, o := range held {
		counts.at(*o.FiscalYear).Held++
		// A held order past retention is counted as held, not purgeable.
		if o.ClosedAt != nil && o.ClosedAt.Before(boundary) {
			counts.at(*o.FiscalYear).Purgeable--
		}
	}
	if rep.Stale, err = r.stale(ctx, cut); err != nil {
		return Report{}, err
	}
	for _, o := range rep.Stale {
		counts.at(*o.FiscalYear).Stale++
	}
	rep.FiscalYears = counts.sorted()
	if len(rep.Stale) > 0 {
		rep.StaleAction = staleAction
	}
	if rep.SubjectRequests, err = r.requestsDue(ctx, asOf); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// held returns the orders under legal hold whose data is still held, each
// with the fiscal year it counts in (its closing year, or its creation
// year while open).
func (r *Reporter) held(ctx context.Context) ([]Row, error) {
	ids, err := r.Holds.Held(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := r.Orders.RetentionRows(ctx, nil, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, o := range rows {
		if o.FiscalYear == nil {
			fy := r.Calendar.FiscalYear(o.CreatedAt)
			o.FiscalYear = &fy
		}
		out[i] = Row{RetentionRow: o, Held: true}
	}
	return out, nil
}

// stale returns the orders that never reached a final state and would be
// past retention had they closed the day they were created.
func (r *Reporter) stale(ctx context.Context, cut time.Time) ([]Row, error) {
	open, err := r.Orders.OpenSince(ctx, cut.AddDate(-r.Calendar.Years, 0, 0))
	if err != nil {
		return nil, err
	}
	out := []Row{}
	for _, o := range open {
		fy, after := r.Calendar.PurgeAfter(o.CreatedAt)
		if after.Before(cut) {
			o.FiscalYear = &fy
			out = append(out, Row{RetentionRow: o})
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
// asOf, after the cursor (the last order of the page before), and whether
// more follow. Purgeable orders come oldest closing first; held and stale
// ones by id.
func (r *Reporter) Page(ctx context.Context, asOf time.Time, category string, fy int, after string, limit int) ([]Row, bool, error) {
	cut := r.Calendar.EndOfDay(asOf)
	var rows []Row
	var err error
	switch category {
	case CategoryPurgeable:
		err = r.pastRetention(ctx, cut, r.Calendar.YearStart(fy), r.Calendar.YearEnd(fy), after, limit+1, func(page []Row) bool {
			rows = append(rows, page...)
			return len(rows) <= limit
		})
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
		var in []Row
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
