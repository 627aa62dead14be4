package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/sharing"
)

// idPattern matches the service's own ids. Only such ids are logged from a
// path: a caller could put anything, personal data included, in a URL.
var idPattern = regexp.MustCompile(`^[a-z]{2,4}_[0-9a-f]{32}$`)

//go:embed openapi.json
var openAPI []byte

func init() { gin.SetMode(gin.ReleaseMode) }

// Handler builds the HTTP router with every route of the API.
func (a *App) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(a.requestID, a.accessLog, a.httpMetrics.middleware, gin.CustomRecovery(func(c *gin.Context, _ any) {
		api.Abort(c, api.New(http.StatusInternalServerError, "internal", "the server could not complete the request; it has been logged"))
	}))
	r.NoRoute(func(c *gin.Context) { api.Abort(c, api.New(http.StatusNotFound, "not_found", "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		api.Abort(c, api.New(http.StatusMethodNotAllowed, "method_not_allowed", "this route does not accept %s", c.Request.Method))
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		if err := a.DB.Ping(c.Request.Context()); err != nil {
			api.Abort(c, api.New(http.StatusServiceUnavailable, "not_ready", "the database is not reachable"))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPI) })
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{})))

	auth := partners.Authenticator{Store: a.Partners}
	reseller := r.Group("", auth.Require(partners.RoleReseller))
	(&orders.API{Service: a.Orders, Caller: resellerCaller}).Register(reseller)
	(&partners.ResellerAPI{Store: a.Partners}).Register(reseller)
	(&orders.CallbackAPI{Service: a.Orders, Verify: a.verifyCallback}).Register(r)
	admin := r.Group("", auth.Require(partners.RoleAdmin))
	(&orders.AdminAPI{Service: a.Orders, Actor: actorOf}).Register(admin)
	finance := r.Group("", auth.Require(partners.RoleFinance))
	(&retention.API{Reporter: a.Reporter, Purger: a.Purger, Actor: actorOf, Background: a.background(),
		Spawn: a.spawn}).Register(finance)
	(&sharing.API{Deliveries: a.Deliveries, Actor: actorOf}).Register(admin)
	(&audit.API{Log: a.Audit}).Register(admin)
	return r
}

// resellerCaller gives the orders package the authenticated reseller.
func resellerCaller(c *gin.Context) (string, string) {
	p := partners.PrincipalOf(c)
	return p.PartnerID, p.Actor()
}

// verifyCallback checks a recipient's callback signature with its secrets.
// An unknown partner, or one that is not a recipient, fails like a bad
// signature, so partner ids cannot be probed.
func (a *App) verifyCallback(ctx context.Context, partnerID string, h http.Header, body []byte) error {
	p, err := a.Partners.Get(ctx, partnerID)
	if err != nil || !p.Kind.IsRecipient() {
		return partners.ErrBadSignature
	}
	secrets, err := a.Partners.Secrets(ctx, partnerID)
	if err != nil {
		a.Logger.ErrorContext(ctx, "read partner secrets", "partner_id", partnerID, "error", err.Error())
		return api.New(http.StatusServiceUnavailable, "unavailable", "the signature could not be checked; retry later")
	}
	return partners.Verify(secrets, h, body, a.Now())
}

// actorOf names the authenticated caller for the audit trail.
func actorOf(c *gin.Context) string { return partners.PrincipalOf(c).Actor() }

// requestID gives every request a Request-Id, reusing a sane one the
// client sent so that both sides can correlate logs.
func (a *App) requestID(c *gin.Context) {
	id := c.GetHeader("Request-Id")
	if id == "" || len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = "req_" + hex.EncodeToString(b)
	}
	c.Set("request_id", id)
	c.Set("logger", a.Logger)
	c.Header("Request-Id", id)
	c.Next()
}

// routeOf names the request's route template (never the path, whose
// segments may be ids or worse), or "unmatched".
func routeOf(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}

// accessLog writes one line per request. It logs ids and the route, never
// bodies, query values or headers, which may hold personal data or keys.
func (a *App) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []any{
		"request_id", c.GetString("request_id"),
		"method", c.Request.Method,
		"route", routeOf(c),
		"status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		"bytes", c.Writer.Size(),
	}
	if id := c.Param("id"); idPattern.MatchString(id) {
		attrs = append(attrs, "subject_id", id)
	}
	if k := c.GetString("key_id"); k != "" {
		attrs = append(attrs, "key_id", k)
	}
	if o := c.GetString("order_id"); idPattern.MatchString(o) {
		attrs = append(attrs, "order_id", o)
	}
	a.Logger.InfoContext(c.Request.Context(), "request", attrs...)
}
