package breaches

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

// API serves the register to the data-protection officer.
type API struct {
	Service *Service
	// Actor names the authenticated caller for the audit trail.
	Actor func(c *gin.Context) string
}

// Register mounts the routes on r, which must authenticate privacy keys.
func (a *API) Register(r gin.IRoutes) {
	r.POST("/v1/breaches", a.open)
	r.GET("/v1/breaches", a.list)
	r.GET("/v1/breaches/:id", a.get)
	r.POST("/v1/breaches/:id/impact", a.recompute)
	r.POST("/v1/breaches/:id/notified", a.notified)
	r.POST("/v1/breaches/:id/risk", a.risk)
	r.GET("/v1/breaches/:id/notification", a.document)
	r.GET("/v1/breaches/:id/notices", a.letters)
}

// decode reads a JSON body strictly into v, or aborts.
func decode(c *gin.Context, v any) bool {
	body, err := api.ReadJSONBody(c)
	if err == nil {
		err = api.Decode(body, v)
	}
	if err != nil {
		api.Abort(c, err)
		return false
	}
	return true
}

func (a *API) open(c *gin.Context) {
	var n NewBreach
	if !decode(c, &n) {
		return
	}
	b, err := a.Service.Open(c.Request.Context(), a.Actor(c), n)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.Header("Location", "/v1/breaches/"+b.ID)
	c.JSON(http.StatusCreated, b)
}

func (a *API) list(c *gin.Context) {
	bs, err := a.Service.List(c.Request.Context(), 1000)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": bs})
}

func (a *API) get(c *gin.Context) {
	b, err := a.Service.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) recompute(c *gin.Context) {
	b, err := a.Service.Recompute(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) notified(c *gin.Context) {
	var n Notification
	if !decode(c, &n) {
		return
	}
	b, err := a.Service.Notified(c.Request.Context(), a.Actor(c), c.Param("id"), n)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) risk(c *gin.Context) {
	var r Risk
	if !decode(c, &r) {
		return
	}
	b, err := a.Service.DecideRisk(c.Request.Context(), a.Actor(c), c.Param("id"), r)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) document(c *gin.Context) {
	d, err := a.Service.Document(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	if c.Query("format") == "html" || api.WantsHTML(c) {
		api.Printable(c, DocumentCSP, d.WriteHTML)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *API) letters(c *gin.Context) {
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	ls, err := a.Service.Letters(c.Request.Context(), a.Actor(c), c.Param("id"), after, limit)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, ls)
}
