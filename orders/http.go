package orders

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/problem"
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
}

func (a *API) catalog(c *gin.Context) {
	cat, err := a.Service.Catalog(c.Request.Context())
	if err != nil {
		problem.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": cat})
}

func (a *API) create(c *gin.Context) {
	resellerID, actor := a.Caller(c)
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		problem.Abort(c, problem.New(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters"))
		return
	}
	body, err := problem.ReadJSONBody(c)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	d, err := a.Service.Decode(c.Request.Context(), body)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	res, err := a.Service.Create(c.Request.Context(), CreateRequest{
		ResellerID: resellerID, Actor: actor, Draft: d, IdempotencyKey: key, Body: body,
	})
	if err != nil {
		problem.Abort(c, err)
		return
	}
	c.Set("order_id", res.Order.ID)
	if res.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Header("Location", "/v1/orders/"+res.Order.ID)
	c.JSON(http.StatusCreated, res.Order)
}

// Page is a list response.
type Page[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// PageParams reads ?limit= (1–100, default 20) and ?cursor=, reporting
// every bad parameter.
func PageParams(c *gin.Context) (limit int, after string, err error) {
	var bad []problem.FieldError
	limit = 20
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			bad = append(bad, problem.FieldError{Parameter: "limit", Code: "out_of_range", Detail: "must be an integer from 1 to 100"})
		}
		limit = n
	}
	if s := c.Query("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 || len(b) > 64 {
			bad = append(bad, problem.FieldError{Parameter: "cursor", Code: "invalid_cursor", Detail: "is not a cursor this API returned"})
		}
		after = string(b)
	}
	if len(bad) > 0 {
		return 0, "", problem.Invalid(bad)
	}
	return limit, after, nil
}

// Cursor encodes an id as an opaque cursor.
func Cursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (a *API) list(c *gin.Context) {
	resellerID, _ := a.Caller(c)
	limit, after, err := PageParams(c)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	f := ListFilter{ResellerID: resellerID, After: after, Limit: limit}
	if s := c.Query("status"); s != "" {
		f.Status = Status(s)
		if !f.Status.Valid() {
			problem.Abort(c, problem.Invalid([]problem.FieldError{{Parameter: "status", Code: "invalid_status",
				Detail: "must be one of received, shared, accepted, shipped, delivered, cancelled, rejected"}}))
			return
		}
	}
	os, more, err := a.Service.List(c.Request.Context(), f)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	page := Page[*Order]{Data: os, HasMore: more}
	if more {
		page.NextCursor = Cursor(os[len(os)-1].ID)
	}
	c.JSON(http.StatusOK, page)
}

func (a *API) get(c *gin.Context) {
	resellerID, _ := a.Caller(c)
	o, err := a.Service.Get(c.Request.Context(), resellerID, c.Param("id"))
	if err != nil {
		problem.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}

func (a *API) cancel(c *gin.Context) {
	resellerID, actor := a.Caller(c)
	o, err := a.Service.Cancel(c.Request.Context(), resellerID, actor, c.Param("id"))
	if err != nil {
		problem.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}
