package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/breaches"
	"github.com/milestone/husky/partners"
)

// The breach register's pages (Art. 33, 34): the register with each
// breach's 72 hours, the form to record one, a breach with its impact and
// the forms that follow it, and the notification and letters as pages.

// formTime reads a datetime-local field (the controller's time zone) as
// RFC 3339, or passes on what it cannot read for the service to refuse.
func (c *Console) formTime(g *gin.Context, name string) string {
	v := strings.TrimSpace(g.PostForm(name))
	if v == "" {
		return ""
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, c.Reporter.Calendar.Location); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}

// breachList is the register and the form to record a breach.
func (c *Console) breachList(g *gin.Context) {
	c.showBreaches(g, http.StatusOK, nil, "")
}

func (c *Console) showBreaches(g *gin.Context, status int, fields map[string]string, problem string) {
	ctx := g.Request.Context()
	bs, err := c.Breaches.List(ctx, 500)
	if err != nil {
		c.problem(g, err)
		return
	}
	ps, err := c.Partners.List(ctx)
	if err != nil {
		c.problem(g, err)
		return
	}
	var recipients []partners.Partner
	for _, p := range ps {
		if p.Kind.IsRecipient() {
			recipients = append(recipients, p)
		}
	}
	form := map[string]string{}
	for _, k := range []string{"from", "to", "aware_at", "description", "likely_consequences", "measures_taken"} {
		form[k] = g.PostForm(k)
	}
	c.render(g, status, "breaches.html", "Personal data breaches", map[string]any{
		"Breaches": bs, "Recipients": recipients, "Where": g.PostFormArray("where"), "Form": form, "Errors": fields, "Problem": problem,
	})
}

// newBreach records a breach from the form.
func (c *Console) newBreach(g *gin.Context) {
	s, _ := c.current(g)
	n := breaches.NewBreach{Where: g.PostFormArray("where"), From: c.formTime(g, "from"), To: c.formTime(g, "to"),
		AwareAt: c.formTime(g, "aware_at"), Description: g.PostForm("description"),
		Consequences: g.PostForm("likely_consequences"), Measures: g.PostForm("measures_taken")}
	b, err := c.Breaches.Open(g.Request.Context(), s.Actor(), n)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			for k, v := range fe {
				if strings.HasPrefix(k, "where/") {
					fe["where"] = v
				}
			}
			c.showBreaches(g, http.StatusUnprocessableEntity, fe, "The breach was not recorded; see the fields below.")
			return
		}
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/breaches/"+b.ID)
}

// breach shows one breach: its deadline, its impact, and what follows.
func (c *Console) breach(g *gin.Context) {
	c.showBreach(g, http.StatusOK, nil, "")
}

func (c *Console) showBreach(g *gin.Context, status int, fields map[string]string, problem string) {
	b, err := c.Breaches.Get(g.Request.Context(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, status, "breach.html", "Breach "+b.ID, map[string]any{"Breach": b, "Errors": fields, "Problem": problem,
		"Now": c.Clock.Now()})
}

// breachAction handles the breach page's forms: recompute the impact,
// record the notification, decide the risk.
func (c *Console) breachAction(g *gin.Context) {
	s, _ := c.current(g)
	ctx, id := g.Request.Context(), g.Param("id")
	var err error
	prefix := g.Param("action") + "/"
	switch g.Param("action") {
	case "impact":
		_, err = c.Breaches.Recompute(ctx, s.Actor(), id)
	case "notified":
		_, err = c.Breaches.Notified(ctx, s.Actor(), id, breaches.Notification{NotifiedAt: c.formTime(g, "notified_at"),
			LateReason: g.PostForm("late_reason")})
	case "risk":
		_, err = c.Breaches.DecideRisk(ctx, s.Actor(), id, breaches.Risk{High: g.PostForm("high") == "yes",
			Reason: g.PostForm("reason"), Advice: g.PostForm("advice")})
	default:
		c.fail(g, http.StatusNotFound, "No such action.")
		return
	}
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			c.showBreach(g, http.StatusUnprocessableEntity, prefixed(prefix, fe), "Nothing was recorded; see the form below.")
			return
		}
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/breaches/"+id)
}

// notification is the Art. 33(3) document as its printable page.
func (c *Console) notification(g *gin.Context) {
	d, err := c.Breaches.Document(g.Request.Context(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	api.Printable(g, breaches.DocumentCSP, d.WriteHTML)
}

// letters shows a page of the letters to persons, each audited as
// written.
func (c *Console) letters(g *gin.Context) {
	s, _ := c.current(g)
	ls, err := c.Breaches.Letters(g.Request.Context(), s.Actor(), g.Param("id"), cursorOf(g), 50)
	if err != nil {
		c.problem(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	c.render(g, http.StatusOK, "letters.html", "Letters to persons, breach "+g.Param("id"), map[string]any{"Letters": ls, "ID": g.Param("id")})
}
