package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/retention"
)

// problem shows a domain error as its status and detail, anything else as
// a logged 500.
func (c *Console) problem(g *gin.Context, err error) {
	var e *api.Error
	if errors.As(err, &e) {
		msg := e.Detail
		for _, f := range e.Fields {
			msg += "; " + f.Pointer + f.Parameter + ": " + f.Detail
		}
		c.fail(g, e.Status, msg)
		return
	}
	c.internal(g, err)
}

// asOf reads ?as_of= (a date in the fiscal time zone; default today).
func (c *Console) asOf(g *gin.Context) (time.Time, string, bool) {
	cal := c.Reporter.Calendar
	if s := g.Query("as_of"); s != "" {
		d, err := cal.ParseDate(s)
		if err != nil {
			c.fail(g, http.StatusUnprocessableEntity, "The date must look like 2026-11-29.")
			return time.Time{}, "", false
		}
		return d, s, true
	}
	d := c.Clock.Now().In(cal.Location)
	return d, d.Format(time.DateOnly), true
}

// financeReport is finance's main page: the purge report as of a date, per
// fiscal year, as a chart and a table that drills down to the orders.
func (c *Console) financeReport(g *gin.Context) {
	day, asOf, ok := c.asOf(g)
	if !ok {
		return
	}
	rep, err := c.Reporter.Summary(g.Request.Context(), day)
	if err != nil {
		c.problem(g, err)
		return
	}
	total := map[string]int{}
	for _, fy := range rep.FiscalYears {
		total["purgeable"] += fy.Purgeable
		total["held"] += fy.Held
		total["stale"] += fy.Stale
	}
	c.render(g, http.StatusOK, "finance.html", "Purge report", map[string]any{
		"AsOf": asOf, "Report": rep, "Total": total, "Chart": chart(rep.FiscalYears),
	})
}

// financeOrders lists one category's orders of one fiscal year, paged:
// ids, dates and status, never personal data.
func (c *Console) financeOrders(g *gin.Context) {
	day, asOf, ok := c.asOf(g)
	if !ok {
		return
	}
	cat := g.Query("category")
	fy, err := strconv.Atoi(g.Query("fy"))
	if err != nil || (cat != retention.CategoryPurgeable && cat != retention.CategoryHeld && cat != retention.CategoryStale) {
		c.fail(g, http.StatusUnprocessableEntity, "Choose a fiscal year and a category (purgeable, held or stale).")
		return
	}
	rows, more, err := c.Reporter.Page(g.Request.Context(), day, cat, fy, g.Query("after"), 100)
	if err != nil {
		c.problem(g, err)
		return
	}
	next := ""
	if more {
		next = rows[len(rows)-1].OrderID
	}
	c.render(g, http.StatusOK, "finance-orders.html", fmt.Sprintf("Fiscal year %d: %s", fy, cat), map[string]any{
		"AsOf": asOf, "FY": fy, "Category": cat, "Rows": rows, "Next": next,
	})
}

// financeCSV downloads the report as CSV, one row per order.
func (c *Console) financeCSV(g *gin.Context) {
	day, asOf, ok := c.asOf(g)
	if !ok {
		return
	}
	rep, err := c.Reporter.Report(g.Request.Context(), day)
	if err != nil {
		c.problem(g, err)
		return
	}
	g.Header("Content-Type", "text/csv; charset=utf-8")
	g.Header("Content-Disposition", `attachment; filename="purge-report-`+asOf+`.csv"`)
	g.Status(http.StatusOK)
	_ = rep.WriteCSV(g.Writer)
}

// purgeConfirm names how many orders a purge started now would erase, and
// asks to confirm.
func (c *Console) purgeConfirm(g *gin.Context) {
	rep, err := c.Reporter.Summary(g.Request.Context(), c.Clock.Now().In(c.Reporter.Calendar.Location))
	if err != nil {
		c.problem(g, err)
		return
	}
	n := 0
	for _, fy := range rep.FiscalYears {
		n += fy.Purgeable
	}
	c.render(g, http.StatusOK, "purge-confirm.html", "Start a purge run", map[string]any{"Count": n, "AsOf": rep.AsOf})
}

// purgeStart starts a run in the background and shows it.
func (c *Console) purgeStart(g *gin.Context) {
	s, _ := c.current(g)
	id, err := c.Purger.Start(g.Request.Context(), s.Actor())
	if err != nil {
		c.problem(g, err)
		return
	}
	resume := func() { _ = c.Purger.Resume(c.Background, id) }
	if c.Spawn != nil {
		c.Spawn(resume)
	} else {
		go resume()
	}
	g.Redirect(http.StatusSeeOther, "/console/finance/runs/"+id)
}

func (c *Console) runs(g *gin.Context) {
	runs, err := c.Purger.List(g.Request.Context(), 100)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "runs.html", "Purge runs", map[string]any{"Runs": runs})
}

func (c *Console) run(g *gin.Context) {
	r, err := c.Purger.Get(g.Request.Context(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "run.html", "Purge run "+r.ID, map[string]any{"Run": r})
}
