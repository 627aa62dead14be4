package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/subjects"
)

// queue is the DPO's main page: open requests by due date, overdue ones
// marked, and the form to log a new one.
func (c *Console) queue(g *gin.Context) {
	c.showQueue(g, http.StatusOK, nil, "")
}

func (c *Console) showQueue(g *gin.Context, status int, fields map[string]string, problem string) {
	rs, err := c.Subjects.List(g.Request.Context(), "", 500)
	if err != nil {
		c.problem(g, err)
		return
	}
	var open, done []*subjects.Request
	for _, r := range rs {
		if r.Status == subjects.StatusOpen {
			open = append(open, r)
		} else {
			done = append(done, r)
		}
	}
	c.render(g, status, "privacy.html", "Subject requests", map[string]any{
		"Open": open, "Completed": done, "Types": subjects.Types, "Errors": fields, "Problem": problem,
		"Form": map[string]string{"type": g.PostForm("type"), "received_at": g.PostForm("received_at")},
	})
}

// fieldErrors maps a validation problem to its fields by pointer.
func fieldErrors(err error) (map[string]string, bool) {
	var e *api.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return nil, false
	}
	out := map[string]string{}
	for _, f := range e.Fields {
		out[strings.TrimPrefix(f.Pointer, "/")] = f.Detail
	}
	return out, true
}

// newRequest logs a request from the form. The email and phone travel in
// the form's body, never in a URL.
func (c *Console) newRequest(g *gin.Context) {
	s, _ := c.current(g)
	n := subjects.NewRequest{Type: subjects.Type(g.PostForm("type")), Email: g.PostForm("email"), Phone: g.PostForm("phone")}
	if d := g.PostForm("received_at"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			c.showQueue(g, http.StatusUnprocessableEntity, map[string]string{"received_at": "must be a date such as 2026-11-29"}, "")
			return
		}
		n.ReceivedAt = t
	}
	r, err := c.Subjects.Open(g.Request.Context(), s.Actor(), n)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			c.showQueue(g, http.StatusUnprocessableEntity, fe, "The request was not logged; see the fields below.")
			return
		}
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+r.ID)
}

// request shows one request: its orders, its steps, and a button for each
// right.
func (c *Console) request(g *gin.Context) {
	c.showRequest(g, http.StatusOK, nil, "")
}

func (c *Console) showRequest(g *gin.Context, status int, fields map[string]string, problem string) {
	r, err := c.Subjects.Get(g.Request.Context(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, status, "request.html", "Request "+r.ID, map[string]any{
		"Request": r, "Steps": describeSteps(r.Steps), "Errors": fields, "Problem": problem,
	})
}

// export is the printable access export (Art. 15). Reading the orders'
// data for it is recorded in the audit trail, as through the API.
func (c *Console) export(g *gin.Context) {
	s, _ := c.current(g)
	e, err := c.Subjects.Export(g.Request.Context(), s.Actor(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	g.Header("Content-Security-Policy", subjects.ExportCSP)
	g.Status(http.StatusOK)
	g.Header("Content-Type", "text/html; charset=utf-8")
	_ = e.WriteHTML(g.Writer)
}

// rectify applies the form's corrections, validated exactly as the API
// validates them; only the fields filled in change.
func (c *Console) rectify(g *gin.Context) {
	s, _ := c.current(g)
	body := map[string]any{}
	customer := map[string]any{}
	for _, k := range []string{"name", "email", "phone"} {
		if v := strings.TrimSpace(g.PostForm(k)); v != "" {
			customer[k] = v
		}
	}
	if len(customer) > 0 {
		body["customer"] = customer
	}
	shipTo := map[string]any{}
	for _, k := range []string{"organization", "line1", "line2", "city", "postal_code", "region", "country"} {
		if v := strings.TrimSpace(g.PostForm("ship_to." + k)); v != "" {
			shipTo[k] = v
		}
	}
	if len(shipTo) > 0 {
		body["ship_to"] = shipTo
	}
	b, _ := json.Marshal(body)
	ch, err := orders.DecodeRectification(b)
	if err == nil {
		if _, err = c.Subjects.Rectify(g.Request.Context(), s.Actor(), g.Param("id"), ch); err == nil {
			g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+g.Param("id")+"#steps")
			return
		}
	}
	if fe, ok := fieldErrors(err); ok {
		c.showRequest(g, http.StatusUnprocessableEntity, fe, "Nothing was changed; see the fields below.")
		return
	}
	c.problem(g, err)
}

// requestAction runs erase, restrict, lift or complete, then shows the
// request again (its steps hold the outcome), so that reloading the page
// does not run it twice.
func (c *Console) requestAction(g *gin.Context) {
	s, _ := c.current(g)
	ctx, id := g.Request.Context(), g.Param("id")
	var err error
	switch g.Param("action") {
	case "erase":
		_, err = c.Subjects.Erase(ctx, s.Actor(), id)
	case "restrict":
		_, err = c.Subjects.Restrict(ctx, s.Actor(), id)
	case "lift":
		_, err = c.Subjects.Lift(ctx, s.Actor(), id)
	case "complete":
		_, err = c.Subjects.Complete(ctx, s.Actor(), id)
	default:
		c.fail(g, http.StatusNotFound, "No such action.")
		return
	}
	if err != nil {
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+id+"#steps")
}

// record shows the record of processing (Art. 30).
func (c *Console) record(g *gin.Context) {
	rec, err := c.Subjects.Record(g.Request.Context(), c.Reporter.Calendar)
	if err != nil {
		c.problem(g, err)
		return
	}
	c.render(g, http.StatusOK, "record.html", "Record of processing", map[string]any{"Record": rec})
}

// stepView is a step as a person reads it: what happened to which order.
type stepView struct {
	subjects.Step
	Lines []string
}

// describeSteps turns each step's result into lines of order ids and
// outcomes.
func describeSteps(steps []subjects.Step) []stepView {
	out := make([]stepView, len(steps))
	for i, st := range steps {
		out[i] = stepView{Step: st}
		m, _ := st.Result.(map[string]any)
		list, _ := m["orders"].([]any)
		for _, x := range list {
			switch o := x.(type) {
			case string:
				out[i].Lines = append(out[i].Lines, o)
			case map[string]any:
				line := fmt.Sprint(o["order_id"])
				if oc, ok := o["outcome"]; ok {
					line += ": " + fmt.Sprint(oc)
					if r, ok := o["reason"]; ok {
						line += " (" + fmt.Sprint(r)
						if u, ok := o["until"]; ok {
							line += fmt.Sprintf(", until %.10s", u)
						}
						line += ")"
					}
				}
				if ch, ok := o["changed"].([]any); ok {
					var names []string
					for _, c := range ch {
						names = append(names, fmt.Sprint(c))
					}
					line += ": changed " + strings.Join(names, ", ")
				}
				out[i].Lines = append(out[i].Lines, line)
			}
		}
		if n, ok := m["notices"]; ok {
			out[i].Lines = append(out[i].Lines, fmt.Sprintf("%v notices to recipients", n))
		}
	}
	return out
}
