package retention

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

// API serves finance's endpoints.
type API struct {
	Reporter *Reporter
	Purger   *Purger
	Actor    func(c *gin.Context) string
	// Background is the context purge runs started over HTTP live in: the
	// service's, not the request's, so a run outlives its request.
	Background context.Context
	// Spawn runs fn in the background so that shutdown can wait for it;
	// nil means a plain goroutine.
	Spawn func(fn func())
}

// Register mounts the finance routes on r, which must authenticate finance
// keys.
func (a *API) Register(r gin.IRoutes) {
	r.GET("/v1/purge/report", a.report)
	r.POST("/v1/purge/runs", a.run)
	r.GET("/v1/purge/runs/:id", a.get)
}

func wantsCSV(c *gin.Context) bool {
	return c.Query("format") == "csv" || strings.Contains(c.GetHeader("Accept"), "text/csv")
}

func (a *API) report(c *gin.Context) {
	cal := a.Reporter.Calendar
	asOf := a.Purger.Clock.Now().In(cal.Location)
	if s := c.Query("as_of"); s != "" {
		d, err := cal.ParseDate(s)
		if err != nil {
			api.Abort(c, api.Invalid([]api.FieldError{{Parameter: "as_of", Code: "invalid_date", Detail: "must be a date such as 2026-11-29"}}))
			return
		}
		asOf = d
	}
	rep, err := a.Reporter.Report(c.Request.Context(), asOf)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if wantsCSV(c) {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="purge-report-`+rep.AsOf+`.csv"`)
		c.Status(http.StatusOK)
		_ = rep.WriteCSV(c.Writer)
		return
	}
	c.JSON(http.StatusOK, rep)
}

// run starts a purge and returns at once (202); the run continues in the
// background in batches while the API keeps answering.
func (a *API) run(c *gin.Context) {
	id, err := a.Purger.Start(c.Request.Context(), a.Actor(c))
	if err != nil {
		api.Abort(c, err)
		return
	}
	resume := func() { _ = a.Purger.Resume(a.Background, id) }
	if a.Spawn != nil {
		a.Spawn(resume)
	} else {
		go resume()
	}
	run, err := a.Purger.Get(c.Request.Context(), id)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.Header("Location", "/v1/purge/runs/"+id)
	c.JSON(http.StatusAccepted, run)
}

func (a *API) get(c *gin.Context) {
	run, err := a.Purger.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	if wantsCSV(c) {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Status(http.StatusOK)
		_ = run.WriteCSV(c.Writer)
		return
	}
	c.JSON(http.StatusOK, run)
}

// Daily runs a purge every day at the given time of day in the fiscal time
// zone until ctx ends. Each run is recorded like any other.
func (p *Purger) Daily(ctx context.Context, cal Calendar, at time.Duration) {
	for {
		now := p.Clock.Now().In(cal.Location)
		next := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, cal.Location).Add(at)
		if !next.After(now) {
			next = time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, cal.Location).Add(at)
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if run, err := p.PurgeNow(ctx, "system:daily-purge"); err != nil {
			if ctx.Err() == nil {
				p.Logger.Error("daily purge", "error", err.Error())
			}
		} else {
			p.Logger.Info("daily purge", "purge_run_id", run.ID, "erased", run.Counts.Erased, "notices", run.Counts.Notices)
		}
	}
}

// HoldAPI serves operators' legal hold endpoints.
type HoldAPI struct {
	Holds *Holds
	Actor func(c *gin.Context) string
}

// Register mounts the legal hold routes on r, which must authenticate
// admins.
func (a *HoldAPI) Register(r gin.IRoutes) {
	r.POST("/v1/orders/:id/hold", a.hold)
	r.POST("/v1/orders/:id/release", a.release)
}

func (a *HoldAPI) hold(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := api.Decode(body, &in); err != nil {
		api.Abort(c, err)
		return
	}
	v, err := a.Holds.Place(c.Request.Context(), a.Actor(c), c.Param("id"), in.Reason)
	if err == ErrHoldReason {
		api.Abort(c, api.Invalid([]api.FieldError{{Pointer: "/reason", Code: "invalid_reason", Detail: ErrHoldReason.Detail}}))
		return
	}
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (a *HoldAPI) release(c *gin.Context) {
	v, err := a.Holds.Release(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
