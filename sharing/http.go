package sharing

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

// API serves the operators' delivery endpoints.
type API struct {
	Deliveries *Deliveries
	// Actor names the authenticated caller for the audit trail.
	Actor func(c *gin.Context) string
}

// Register mounts the admin routes on r, which must already authenticate
// admin keys.
func (a *API) Register(r gin.IRoutes) {
	r.GET("/v1/deliveries", a.list)
	r.GET("/v1/deliveries/:id", a.get)
	r.POST("/v1/deliveries/:id/replay", a.replay)
}

func (a *API) list(c *gin.Context) {
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	f := ListFilter{Status: Status(c.Query("status")), OrderID: c.Query("order_id"), After: after, Limit: limit}
	switch f.Status {
	case "", StatusPending, StatusDelivered, StatusDead:
	default:
		api.Abort(c, api.Invalid([]api.FieldError{{Parameter: "status", Code: "invalid_status", Detail: "must be pending, delivered or dead"}}))
		return
	}
	ds, more, err := a.Deliveries.List(c.Request.Context(), f)
	if err != nil {
		api.Abort(c, err)
		return
	}
	page := api.Page[Delivery]{Data: ds, HasMore: more}
	if more {
		page.NextCursor = api.Cursor(ds[len(ds)-1].ID)
	}
	c.JSON(http.StatusOK, page)
}

func (a *API) get(c *gin.Context) {
	d, err := a.Deliveries.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	attempts, err := a.Deliveries.Attempts(c.Request.Context(), d.ID)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"delivery": d, "attempts": attempts})
}

func (a *API) replay(c *gin.Context) {
	id := c.Param("id")
	if err := a.Deliveries.Replay(c.Request.Context(), a.Actor(c), id); err != nil {
		api.Abort(c, err)
		return
	}
	d, err := a.Deliveries.Get(c.Request.Context(), id)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}
