package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
)

// deliveries is the operators' main page: deliveries newest first, filtered
// by status, recipient and order id, a page at a time.
func (c *Console) deliveries(g *gin.Context) {
	ctx := g.Request.Context()
	f := sharing.ListFilter{Status: sharing.Status(g.Query("status")), PartnerID: g.Query("recipient"), OrderID: g.Query("order"),
		After: g.Query("after"), Limit: 50}
	if !slices.Contains([]sharing.Status{"", sharing.StatusPending, sharing.StatusDelivered, sharing.StatusDead}, f.Status) {
		c.fail(g, http.StatusUnprocessableEntity, "The status must be pending, delivered or dead.")
		return
	}
	ds, more, err := c.Deliveries.List(ctx, f)
	if err != nil {
		c.problem(g, err)
		return
	}
	ps, err := c.recipientList(g)
	if err != nil {
		c.problem(g, err)
		return
	}
	next := ""
	if more {
		next = ds[len(ds)-1].ID
	}
	c.render(g, http.StatusOK, "deliveries.html", "Deliveries", map[string]any{
		"Deliveries": ds, "Filter": f, "Recipients": ps, "Next": next,
	})
}

func (c *Console) recipientList(g *gin.Context) ([]partners.Partner, error) {
	ps, err := c.Partners.List(g.Request.Context())
	if err != nil {
		return nil, err
	}
	var out []partners.Partner
	for _, p := range ps {
		if p.Kind.IsRecipient() || p.EndpointURL != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// delivery shows one delivery with its attempts.
func (c *Console) delivery(g *gin.Context) {
	ctx := g.Request.Context()
	d, err := c.Deliveries.Get(ctx, g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	attempts, err := c.Deliveries.Attempts(ctx, d.ID)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "delivery.html", "Delivery "+d.ID, map[string]any{"Delivery": d, "Attempts": attempts,
		"Replayed": g.Query("replayed") != ""})
}

func (c *Console) replayOne(g *gin.Context) {
	s, _ := c.current(g)
	if err := c.Deliveries.Replay(g.Request.Context(), s.Actor(), g.Param("id")); err != nil {
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/deliveries/"+g.Param("id")+"?replayed=1")
}

// since reads the replay's start, a date and time in UTC from the form.
func since(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04", time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// replayConfirm names how many dead deliveries a replay since a time would
// send again, and asks to confirm.
func (c *Console) replayConfirm(g *gin.Context) {
	t, ok := since(g.Query("since"))
	if !ok {
		c.fail(g, http.StatusUnprocessableEntity, "Give the time to replay from, such as 2026-11-28T00:00 (UTC).")
		return
	}
	n, err := c.Deliveries.CountDeadSince(g.Request.Context(), t)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "replay-confirm.html", "Replay dead deliveries", map[string]any{"Since": t, "Count": n,
		"SinceValue": t.Format("2006-01-02T15:04")})
}

func (c *Console) replaySince(g *gin.Context) {
	s, _ := c.current(g)
	t, ok := since(g.PostForm("since"))
	if !ok {
		c.fail(g, http.StatusUnprocessableEntity, "Give the time to replay from, such as 2026-11-28T00:00 (UTC).")
		return
	}
	ids, err := c.Deliveries.ReplayDeadSince(g.Request.Context(), s.Actor(), t)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "replayed.html", "Replayed", map[string]any{"Count": len(ids), "Since": t})
}

// recipients shows each recipient's health: enabled or why not, and since
// when it has been failing.
func (c *Console) recipients(g *gin.Context) {
	ps, err := c.recipientList(g)
	if err != nil {
		c.problem(g, err)
		return
	}
	health, err := c.Deliveries.Health(g.Request.Context())
	if err != nil {
		c.problem(g, err)
		return
	}
	type row struct {
		partners.Partner
		FailingSince *time.Time
	}
	rows := make([]row, len(ps))
	for i, p := range ps {
		rows[i] = row{Partner: p}
		if t, ok := health[p.ID]; ok {
			rows[i].FailingSince = &t
		}
	}
	c.render(g, http.StatusOK, "recipients.html", "Recipients", map[string]any{"Recipients": rows})
}

func (c *Console) setRecipient(g *gin.Context) {
	s, _ := c.current(g)
	var enabled bool
	switch g.Param("action") {
	case "enable":
		enabled = true
	case "disable":
	default:
		c.fail(g, http.StatusNotFound, "No such action.")
		return
	}
	reason := ""
	if !enabled {
		reason = "operator"
	}
	if err := c.Partners.SetEnabled(g.Request.Context(), s.Actor(), g.Param("id"), enabled, reason); err != nil {
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/recipients")
}

// audit shows the trail's latest signed checkpoint and its size.
func (c *Console) audit(g *gin.Context) {
	c.showAudit(g, nil)
}

func (c *Console) showAudit(g *gin.Context, report any) {
	ctx := g.Request.Context()
	size, err := c.Audit.Size(ctx)
	if err != nil {
		c.problem(g, err)
		return
	}
	cp, err := c.Audit.Latest(ctx)
	data := map[string]any{"Size": size, "Report": report}
	if err == nil {
		data["Checkpoint"] = cp
	}
	c.render(g, http.StatusOK, "audit.html", "Audit trail", data)
}

// verify runs the full verification and shows its outcome.
func (c *Console) verify(g *gin.Context) {
	rep, err := c.Audit.Verify(g.Request.Context(), nil)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.showAudit(g, rep)
}
