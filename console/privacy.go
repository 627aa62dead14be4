package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
		t, err := time.ParseInLocation(time.DateOnly, d, c.Reporter.Calendar.Location)
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
	r, err := c.Subjects.GetPage(g.Request.Context(), g.Param("id"), cursorOf(g), subjects.PageSize)
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
	e, err := c.Subjects.Export(g.Request.Context(), s.Actor(), g.Param("id"), cursorOf(g), subjects.PageSize)
	if err != nil {
		c.problem(g, err)
		return
	}
	api.Printable(g, subjects.ExportCSP, e.WriteHTML)
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

// reply is the printable answer to the person (Art. 12).
func (c *Console) reply(g *gin.Context) {
	rp, err := c.Subjects.Reply(g.Request.Context(), g.Param("id"))
	if err != nil {
		c.problem(g, err)
		return
	}
	api.Printable(g, subjects.ReplyCSP, rp.WriteHTML)
}

// decide includes and excludes the candidate orders chosen in the form:
// one select per candidate (include, exclude, or leave as it is) and one
// reason for them all.
func (c *Console) decide(g *gin.Context) {
	s, _ := c.current(g)
	d := subjects.Decision{Reason: g.PostForm("reason")}
	if err := g.Request.ParseForm(); err == nil {
		for k, vs := range g.Request.PostForm {
			id, ok := strings.CutPrefix(k, "order.")
			if !ok || len(vs) == 0 {
				continue
			}
			switch vs[0] {
			case "include":
				d.Include = append(d.Include, id)
			case "exclude":
				d.Exclude = append(d.Exclude, id)
			}
		}
	}
	slices.Sort(d.Include)
	slices.Sort(d.Exclude)
	if _, err := c.Subjects.Decide(g.Request.Context(), s.Actor(), g.Param("id"), d); err != nil {
		if fe, ok := fieldErrors(err); ok {
			c.showRequest(g, http.StatusUnprocessableEntity, prefixed("decide/", fe), "Nothing was decided; see the form below.")
			return
		}
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+g.Param("id")+"#candidates")
}

// extend extends the request's deadline by two months, once, with a reason.
func (c *Console) extend(g *gin.Context) {
	s, _ := c.current(g)
	if _, err := c.Subjects.Extend(g.Request.Context(), s.Actor(), g.Param("id"), g.PostForm("reason")); err != nil {
		if fe, ok := fieldErrors(err); ok {
			c.showRequest(g, http.StatusUnprocessableEntity, prefixed("extend/", fe), "The deadline was not extended; see the form below.")
			return
		}
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+g.Param("id"))
}

// lift lifts the request's restriction, with the reason and the date the
// person was told (Art. 18(3)).
func (c *Console) lift(g *gin.Context) {
	s, _ := c.current(g)
	l := subjects.Lifting{Reason: g.PostForm("reason")}
	bad := map[string]string{}
	if d := g.PostForm("person_told_at"); d != "" {
		t, err := subjects.ParseWhen(d, c.Reporter.Calendar.Location)
		if err != nil {
			bad["lift/person_told_at"] = "must be a date such as 2026-11-29"
		}
		l.PersonToldAt = t
	}
	err := error(nil)
	if len(bad) == 0 {
		_, err = c.Subjects.Lift(g.Request.Context(), s.Actor(), g.Param("id"), l)
	}
	if fe, ok := fieldErrors(err); ok || len(bad) > 0 {
		for k, v := range prefixed("lift/", fe) {
			bad[k] = v
		}
		c.showRequest(g, http.StatusUnprocessableEntity, bad, "The restriction was not lifted; see the form below.")
		return
	}
	if err != nil {
		c.problem(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/console/privacy/requests/"+g.Param("id")+"#steps")
}

// cursorOf reads the page cursor of a paged view (an order id).
func cursorOf(g *gin.Context) string {
	b, err := base64.RawURLEncoding.DecodeString(g.Query("cursor"))
	if err != nil || len(b) > 64 {
		return ""
	}
	return string(b)
}

func prefixed(prefix string, fe map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range fe {
		out[prefix+k] = v
	}
	return out
}

// requestAction runs erase, restrict or complete, then shows the
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
		for _, k := range []string{"include", "exclude"} {
			if list, ok := m[k].([]any); ok && len(list) > 0 {
				var ids []string
				for _, x := range list {
					ids = append(ids, fmt.Sprint(x))
				}
				out[i].Lines = append(out[i].Lines, k+": "+strings.Join(ids, ", "))
			}
		}
		if r, ok := m["reason"].(string); ok && r != "" {
			out[i].Lines = append(out[i].Lines, "reason: "+r)
		}
		if t, ok := m["person_told_at"].(string); ok {
			out[i].Lines = append(out[i].Lines, "person told: "+t)
		}
		if t, ok := m["due_at"].(string); ok {
			out[i].Lines = append(out[i].Lines, "now due: "+t)
		}
		if n, ok := m["notices"]; ok {
			out[i].Lines = append(out[i].Lines, fmt.Sprintf("%v notices to recipients", n))
		}
	}
	return out
}
