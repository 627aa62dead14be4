package subjects

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/retention"
)

// API serves the data-protection officer's endpoints. The person is named
// in request bodies only, never in a URL.
type API struct {
	Service  *Service
	Calendar retention.Calendar
	// Actor names the authenticated caller for the audit trail.
	Actor func(c *gin.Context) string
}

// Register mounts the routes on r, which must authenticate privacy keys.
func (a *API) Register(r gin.IRoutes) {
	r.POST("/v1/subject-requests", a.open)
	r.GET("/v1/subject-requests", a.list)
	r.GET("/v1/subject-requests/:id", a.get)
	r.GET("/v1/subject-requests/:id/export", a.export)
	r.POST("/v1/subject-requests/:id/rectify", a.rectify)
	r.POST("/v1/subject-requests/:id/erase", a.erase)
	r.POST("/v1/subject-requests/:id/restrict", a.restrict)
	r.POST("/v1/subject-requests/:id/lift", a.lift)
	r.POST("/v1/subject-requests/:id/complete", a.complete)
	r.POST("/v1/subject-requests/:id/orders", a.decide)
	r.POST("/v1/subject-requests/:id/extend", a.extend)
	r.GET("/v1/subject-requests/:id/reply", a.reply)
	r.GET("/v1/privacy/record", a.record)
}

type openBody struct {
	Type       string `json:"type"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	ReceivedAt string `json:"received_at"`
}

// ParseNewRequest decodes and validates the body of POST
// /v1/subject-requests with the strict decoder.
func ParseNewRequest(body []byte, loc *time.Location) (NewRequest, error) {
	var in openBody
	if err := api.Decode(body, &in); err != nil {
		return NewRequest{}, err
	}
	n := NewRequest{Type: Type(in.Type), Email: in.Email, Phone: in.Phone}
	if in.ReceivedAt != "" {
		// A date alone (a letter's date of receipt) is the start of that
		// day in the controller's time zone, and counts from that day.
		t, err := ParseWhen(in.ReceivedAt, loc)
		if err != nil {
			return NewRequest{}, api.Invalid([]api.FieldError{{Pointer: "/received_at", Code: "invalid_time",
				Detail: "must be an RFC 3339 time or a date (2026-01-31)"}})
		}
		n.ReceivedAt = t
	}
	return n, nil
}

func (a *API) open(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	n, err := ParseNewRequest(body, a.Service.loc())
	if err != nil {
		api.Abort(c, err)
		return
	}
	r, err := a.Service.Open(c.Request.Context(), a.Actor(c), n)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.Header("Location", "/v1/subject-requests/"+r.ID)
	c.JSON(http.StatusCreated, r)
}

func (a *API) list(c *gin.Context) {
	st := Status(c.Query("status"))
	if st != "" && st != StatusOpen && st != StatusCompleted {
		api.Abort(c, api.Invalid([]api.FieldError{{Parameter: "status", Code: "invalid_status", Detail: "must be open or completed"}}))
		return
	}
	rs, err := a.Service.List(c.Request.Context(), st, 1000)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": rs})
}

func (a *API) get(c *gin.Context) {
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if c.Query("limit") == "" {
		limit = PageSize
	}
	r, err := a.Service.GetPage(c.Request.Context(), c.Param("id"), after, limit)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) export(c *gin.Context) {
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if c.Query("limit") == "" {
		limit = PageSize
	}
	e, err := a.Service.Export(c.Request.Context(), a.Actor(c), c.Param("id"), after, limit)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if api.WantsHTML(c) {
		api.Printable(c, ExportCSP, e.WriteHTML)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+e.RequestID+`.json"`)
	c.JSON(http.StatusOK, e)
}

func (a *API) rectify(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	ch, err := orders.DecodeRectification(body)
	if err != nil {
		api.Abort(c, err)
		return
	}
	out, err := a.Service.Rectify(c.Request.Context(), a.Actor(c), c.Param("id"), ch)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"orders": out})
}

func (a *API) erase(c *gin.Context) {
	out, err := a.Service.Erase(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"orders": out})
}

func (a *API) restrict(c *gin.Context) {
	r, err := a.Service.Restrict(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) lift(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	l, err := ParseLifting(body, a.Service.Clock.Now())
	if err != nil {
		api.Abort(c, err)
		return
	}
	r, err := a.Service.Lift(c.Request.Context(), a.Actor(c), c.Param("id"), l)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) complete(c *gin.Context) {
	r, err := a.Service.Complete(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) decide(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	d, err := ParseDecision(body)
	if err != nil {
		api.Abort(c, err)
		return
	}
	r, err := a.Service.Decide(c.Request.Context(), a.Actor(c), c.Param("id"), d)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) extend(c *gin.Context) {
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
	r, err := a.Service.Extend(c.Request.Context(), a.Actor(c), c.Param("id"), in.Reason)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (a *API) reply(c *gin.Context) {
	rp, err := a.Service.Reply(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	if api.WantsHTML(c) {
		api.Printable(c, ReplyCSP, rp.WriteHTML)
		return
	}
	c.JSON(http.StatusOK, rp)
}

func (a *API) record(c *gin.Context) {
	rec, err := a.Service.Record(c.Request.Context(), a.Calendar)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if c.Query("format") == "markdown" || strings.Contains(c.GetHeader("Accept"), "text/markdown") {
		c.Header("Content-Type", "text/markdown; charset=utf-8")
		c.Status(http.StatusOK)
		_ = rec.WriteMarkdown(c.Writer)
		return
	}
	c.JSON(http.StatusOK, rec)
}
