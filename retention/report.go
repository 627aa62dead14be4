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
