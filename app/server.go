package app

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/breaches"
	"github.com/milestone/husky/console"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/subjects"
)

// idPattern matches the service's own ids. Only such ids are logged from a
// path: a caller could put anything, personal data included, in a URL.
var idPattern = regexp.MustCompile(`^[a-z]{2,4}_[0-9a-f]{32}$`)

// requestIDPattern is a client's Request-Id the service keeps: a short
// token of letters, digits and . _ : - (a UUID, a trace id). Anything else,
// an email address included, is replaced, since it reaches the log.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

//go:embed openapi.json
var openAPI []byte

func init() { gin.SetMode(gin.ReleaseMode) }

// Handler builds the HTTP router with every route of the API.
func (a *App) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// Forwarded headers are believed only from the configured proxies
	// (HUSKY_TRUSTED_PROXIES); from anyone else, a client could claim any
	// address, or HTTPS.
	_ = r.SetTrustedProxies(a.trustedProxies())
	r.Use(a.traced, a.requestID, a.accessLog, a.httpMetrics.middleware, gin.CustomRecovery(func(c *gin.Context, _ any) {
		api.Abort(c, api.New(http.StatusInternalServerError, "internal", "the server could not complete the request; it has been logged"))
	}))
	if a.Config.TLSCert != "" {
		r.Use(hsts)
	}
	r.NoRoute(func(c *gin.Context) { api.Abort(c, api.New(http.StatusNotFound, "not_found", "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		// The method is not echoed: a caller controls it, up to any length.
		api.Abort(c, api.New(http.StatusMethodNotAllowed, "method_not_allowed", "this route does not accept this method"))
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
	limit := a.limiter.Middleware(func(c *gin.Context) string { return c.GetString("key_id") })
	reseller := r.Group("", auth.Require(partners.RoleReseller), limit)
	(&orders.API{Service: a.Orders, Caller: resellerCaller}).Register(reseller)
	(&partners.ResellerAPI{Store: a.Partners}).Register(reseller)
	(&orders.CallbackAPI{Service: a.Orders, Verify: a.verifyCallback, Logger: a.Logger}).Register(r)
	admin := r.Group("", auth.Require(partners.RoleAdmin), limit)
	(&orders.AdminAPI{Service: a.Orders, Actor: actorOf, LegalHold: a.legalHold}).Register(admin)
	(&retention.HoldAPI{Holds: a.Holds, Actor: actorOf}).Register(admin)
	finance := r.Group("", auth.Require(partners.RoleFinance), limit)
	(&retention.API{Reporter: a.Reporter, Purger: a.Purger, Actor: actorOf, Background: a.background(),
		Spawn: a.spawn}).Register(finance)
	(&sharing.API{Deliveries: a.Deliveries, Actor: actorOf}).Register(admin)
	privacy := r.Group("", auth.Require(partners.RolePrivacy), limit)
	(&subjects.API{Service: a.Subjects, Calendar: a.Calendar, Actor: actorOf}).Register(privacy)
	(&breaches.API{Service: a.Breaches, Actor: actorOf}).Register(privacy)
	a.console().Register(r)
	(&audit.API{Log: a.Audit}).Register(admin)
	return routed{compressed(r), r}
}

// routed is the router behind its compression, still able to list its
// routes (the OpenAPI test holds the document against them).
type routed struct {
	http.Handler
	engine *gin.Engine
}

// Routes lists the router's routes.
func (r routed) Routes() gin.RoutesInfo { return r.engine.Routes() }

// compressed gzips the responses of clients that accept it, from 1 KB up.
// Pages that carry a CSRF token beside text a client sent get a random
// padding, so that the compressed size does not give the token away
// (BREACH).
func compressed(h http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.RandomJitter(32, 0, false))
	if err != nil {
		panic("app: gzip options: " + err.Error()) // constant options
	}
	return wrap(h)
}

// console builds the web console over the app's services.
func (a *App) console() *console.Console {
	return &console.Console{DB: a.DB, Partners: a.Partners, Reporter: a.Reporter, Purger: a.Purger, Subjects: a.Subjects, Breaches: a.Breaches,
		Deliveries: a.Deliveries, Audit: a.Audit, Logger: a.Logger, Clock: a.Clock, Secure: a.Config.TLSCert != "" || a.Config.SecureCookies,
		HTTPS: a.viaHTTPS, Limit: a.limiter.Middleware(func(c *gin.Context) string { return c.GetString("key_id") }), Metrics: a.consoleMetrics,
		Background: a.background(), Spawn: a.spawn, Idle: a.Config.ConsoleIdle, Lifetime: a.Config.ConsoleLifetime}
}

// trustedProxies returns the configured proxies as gin takes them.
func (a *App) trustedProxies() []string {
	out := []string{}
	for _, p := range a.Config.TrustedProxies {
		out = append(out, p.String())
	}
	return out
}

// viaHTTPS reports whether a request came over HTTPS: to this server, or to
// a trusted proxy that says so in X-Forwarded-Proto.
func (a *App) viaHTTPS(c *gin.Context) bool {
	if c.Request.TLS != nil {
		return true
	}
	remote, err := netip.ParseAddr(c.RemoteIP())
	if err != nil || !slices.ContainsFunc(a.Config.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(remote.Unmap()) }) {
		return false
	}
	return strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// resellerCaller gives the orders package the authenticated reseller.
func resellerCaller(c *gin.Context) (string, string) {
	p := partners.PrincipalOf(c)
	return p.PartnerID, p.Actor()
}

// hsts tells browsers to use HTTPS only, for a year, when serve speaks it.
func hsts(c *gin.Context) {
	c.Header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	c.Next()
}

// verifyCallback checks a recipient's callback signature with its secrets.
// An unknown partner, or one that is not a recipient, fails like a bad
// signature (after the same work, against a throwaway secret), so partner
// ids cannot be probed; the caller answers every failure alike.
func (a *App) verifyCallback(ctx context.Context, partnerID string, h http.Header, body []byte) error {
	p, err := a.Partners.Get(ctx, partnerID)
	if err != nil || !p.Kind.IsRecipient() {
		_ = partners.Verify([]string{throwawaySecret}, h, body, a.Clock.Now())
		return fmt.Errorf("%w (no recipient has this id)", partners.ErrBadSignature)
	}
	secrets, err := a.Partners.Secrets(ctx, partnerID)
	if err != nil {
		a.Logger.ErrorContext(ctx, "read partner secrets", "partner_id", partnerID, "error", err.Error())
		return api.New(http.StatusServiceUnavailable, "unavailable", "the signature could not be checked; retry later")
	}
	return partners.Verify(secrets, h, body, a.Clock.Now())
}

// actorOf names the authenticated caller for the audit trail.
func actorOf(c *gin.Context) string { return partners.PrincipalOf(c).Actor() }

// requestID gives every request a Request-Id, reusing a sane one the
// client sent so that both sides can correlate logs.
func (a *App) requestID(c *gin.Context) {
	id := c.GetHeader("Request-Id")
	if !requestIDPattern.MatchString(id) {
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

// throwawaySecret verifies callbacks for ids that are not recipients, so
// that they cost what a real check costs.
var throwawaySecret = func() string { s, _ := partners.NewSecret(); return s }()

// knownMethods are the HTTP methods logged and counted by name; any other
// is "other", so a caller cannot grow the metrics or a log line with
// invented methods.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true}

// methodOf names the request's method for logs and metrics.
func methodOf(c *gin.Context) string {
	if knownMethods[c.Request.Method] {
		return c.Request.Method
	}
	return "other"
}

// accessLog writes one line per request. It logs ids and the route, never
// bodies, query values or headers, which may hold personal data or keys;
// every value in the line is bounded (route templates, known methods, ids
// of our own shape, a Request-Id of at most 128 characters).
func (a *App) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []any{
		"request_id", c.GetString("request_id"),
		"method", methodOf(c),
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
