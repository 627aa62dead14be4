package orders

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

// API serves the reseller endpoints.
type API struct {
	Service *Service
	// Caller returns the authenticated reseller's partner id and the actor
	// name for the audit trail. cmd supplies it from the partners package,
	// which orders does not import.
	Caller func(c *gin.Context) (resellerID, actor string)
}

// Register mounts the reseller routes on r, which must already authenticate
// reseller keys.
func (a *API) Register(r gin.IRoutes) {
	r.GET("/v1/catalog", a.catalog)
	r.POST("/v1/orders", a.create)
	r.GET("/v1/orders", a.list)
	r.GET("/v1/orders/:id", a.get)
	r.POST("/v1/orders/:id/cancel", a.cancel)
	r.GET("/v1/orders/:id/events", a.events)
}

func (a *API) events(c *gin.Context) {
	resellerID, _ := a.Caller(c)
	evs, err := a.Service.Events(c.Request.Context(), resellerID, c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": evs})
}

// AdminAPI serves operators' order endpoints.
type AdminAPI struct {
	Service *Service
	// Actor names the authenticated operator for the audit trail.
	Actor func(c *gin.Context) string
	// LegalHold, if set, returns an order's legal hold (retention's) for
	// the operator's view, or nil.
	LegalHold func(ctx context.Context, orderID string) (any, error)
}

// Register mounts the admin routes on r, which must authenticate admins.
func (a *AdminAPI) Register(r gin.IRoutes) {
	r.GET("/v1/conflicts", a.conflicts)
	r.GET("/v1/admin/orders/:id", a.view)
	r.POST("/v1/admin/orders/:id/close", a.close)
}

// view shows an operator an order with its personal data; the read itself
// is recorded in the audit trail (Art. 5(2): accountability for access).
func (a *AdminAPI) view(c *gin.Context) {
	o, err := a.Service.View(c.Request.Context(), a.Actor(c), c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	v := gin.H{"order": o, "legal_hold": nil}
	if a.LegalHold != nil {
		if v["legal_hold"], err = a.LegalHold(c.Request.Context(), o.ID); err != nil {
			api.Abort(c, err)
			return
		}
	}
	if o.CloseReason != "" {
		v["close_reason"] = o.CloseReason
	}
	c.JSON(http.StatusOK, v)
}

// closeBody is the body of POST /v1/admin/orders/{id}/close.
type closeBody struct {
	As     string `json:"as"`
	At     string `json:"at"`
	Reason string `json:"reason"`
}

// Closed is what an operator sees of a closed order: no personal data.
type Closed struct {
	OrderID    string     `json:"order_id"`
	Status     Status     `json:"status"`
	ClosedAt   *time.Time `json:"closed_at"`
	FiscalYear *int       `json:"fiscal_year,omitempty"`
	PurgeAfter *time.Time `json:"purge_after,omitempty"`
}

// ClosedView returns what an operator sees of o once closed.
func ClosedView(o *Order) Closed {
	return Closed{OrderID: o.ID, Status: o.Status, ClosedAt: o.ClosedAt, FiscalYear: o.FiscalYear, PurgeAfter: o.PurgeAfter}
}

// close closes an order that never reached a final state.
func (a *AdminAPI) close(c *gin.Context) {
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	var in closeBody
	if err := api.Decode(body, &in); err != nil {
		api.Abort(c, err)
		return
	}
	req := CloseRequest{As: Status(in.As), Reason: in.Reason}
	if in.At != "" {
		if req.At, err = time.Parse(time.RFC3339, in.At); err != nil {
			api.Abort(c, api.Invalid([]api.FieldError{{Pointer: "/at", Code: "invalid_time", Detail: "must be an RFC 3339 time"}}))
			return
		}
	}
	o, err := a.Service.Close(c.Request.Context(), a.Actor(c), c.Param("id"), req)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, ClosedView(o))
}

func (a *AdminAPI) conflicts(c *gin.Context) {
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if c.Query("limit") == "" {
		limit = 100
	}
	before, _ := strconv.ParseInt(after, 10, 64)
	evs, err := a.Service.Conflicts(c.Request.Context(), a.Actor(c), before, limit+1)
	if err != nil {
		api.Abort(c, err)
		return
	}
	page := api.Page[Event]{Data: evs}
	if len(evs) > limit {
		page.Data, page.HasMore = evs[:limit], true
		page.NextCursor = api.Cursor(strconv.FormatInt(evs[limit-1].ID, 10))
	}
	c.JSON(http.StatusOK, page)
}

func (a *API) catalog(c *gin.Context) {
	cat, err := a.Service.Catalog(c.Request.Context())
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": cat})
}

func (a *API) create(c *gin.Context) {
	resellerID, actor := a.Caller(c)
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		api.Abort(c, api.New(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters"))
		return
	}
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	d, err := a.Service.Decode(c.Request.Context(), body)
	if err != nil {
		api.Abort(c, err)
		return
	}
	res, err := a.Service.Create(c.Request.Context(), CreateRequest{
		ResellerID: resellerID, Actor: actor, Draft: d, IdempotencyKey: key, Body: body,
	})
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.Set("order_id", res.Order.ID)
	if res.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Header("Location", "/v1/orders/"+res.Order.ID)
	c.JSON(http.StatusCreated, res.Order)
}

func (a *API) list(c *gin.Context) {
	resellerID, _ := a.Caller(c)
	limit, after, err := api.PageParams(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	f := ListFilter{ResellerID: resellerID, After: after, Limit: limit}
	if s := c.Query("status"); s != "" {
		f.Status = Status(s)
		if !f.Status.Valid() {
			api.Abort(c, api.Invalid([]api.FieldError{{Parameter: "status", Code: "invalid_status",
				Detail: "must be one of received, shared, accepted, shipped, delivered, cancelled, rejected"}}))
			return
		}
	}
	os, more, err := a.Service.List(c.Request.Context(), f)
	if err != nil {
		api.Abort(c, err)
		return
	}
	page := api.Page[*Order]{Data: os, HasMore: more}
	if more {
		page.NextCursor = api.Cursor(os[len(os)-1].ID)
	}
	c.JSON(http.StatusOK, page)
}

func (a *API) get(c *gin.Context) {
	resellerID, _ := a.Caller(c)
	o, err := a.Service.Get(c.Request.Context(), resellerID, c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}

func (a *API) cancel(c *gin.Context) {
	resellerID, actor := a.Caller(c)
	o, err := a.Service.Cancel(c.Request.Context(), resellerID, actor, c.Param("id"))
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}
