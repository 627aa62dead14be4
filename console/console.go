// Package console is the web console at /console for finance, the
// data-protection officer and operators: server-rendered pages (Go
// html/template, assets embedded in the binary), usable without JavaScript,
// at a laptop's width and a phone's, and with the keyboard alone. People
// sign in with an API key of role finance, privacy or admin; a session is a
// server-side record referenced by an HttpOnly, SameSite=Strict cookie,
// ending 30 minutes after its last use, at sign-out, or when its key is
// revoked. Every form that changes something carries a CSRF token, and no
// personal value ever appears in a URL.
package console

import (
	"cmp"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/breaches"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/subjects"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Console serves the pages. Its fields are the services it shows.
type Console struct {
	DB         *store.DB
	Partners   *partners.Store
	Reporter   *retention.Reporter
	Purger     *retention.Purger
	Subjects   *subjects.Service
	Breaches   *breaches.Service
	Deliveries *sharing.Deliveries
	Audit      *audit.Log
	Logger     *slog.Logger
	Clock      base.Clock
	// Secure marks the cookies Secure always (the service speaks HTTPS, or
	// clients reach it only over HTTPS through a proxy); HTTPS says whether
	// one request came over HTTPS (through a trusted proxy), so that its
	// cookies are Secure too.
	Secure bool
	HTTPS  func(g *gin.Context) bool
	// Limit, if set, limits the requests of a signed-in key (the API's
	// per-key limit); Metrics counts sign-in failures and throttling.
	Limit   gin.HandlerFunc
	Metrics *Metrics
	// Background is the context a purge run started from a page lives in;
	// Spawn runs it so that shutdown waits for it.
	Background context.Context
	Spawn      func(func())
	// Idle and Lifetime end a session after so long unused, and so long
	// after sign-in (HUSKY_CONSOLE_IDLE, HUSKY_CONSOLE_LIFETIME); zero
	// means DefaultIdle, DefaultLifetime.
	Idle, Lifetime time.Duration

	pages    map[string]*template.Template
	throttle throttle
}

// DefaultIdle ends a session this long after its last use, unless
// Idle says otherwise: the company's policy, 15 minutes of inactivity.
// DefaultLifetime ends it this long after sign-in, however it is used.
const (
	DefaultIdle     = 15 * time.Minute
	DefaultLifetime = 8 * time.Hour
)

func (c *Console) idle() time.Duration { return cmp.Or(c.Idle, DefaultIdle) }

func (c *Console) lifetime() time.Duration { return cmp.Or(c.Lifetime, DefaultLifetime) }

// sessions is the console's own table.
func (c *Console) sessions() sessions { return sessions{db: c.DB} }

// limit applies Limit, when set, to a signed-in request.
func (c *Console) limit(g *gin.Context) {
	if c.Limit != nil {
		c.Limit(g)
		return
	}
	g.Next()
}

// csp is the pages' Content-Security-Policy: nothing but the binary's own
// stylesheet and images, no script at all, forms posting only here, no
// framing.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Register mounts the console on r at /console.
func (c *Console) Register(r gin.IRouter) {
	c.parse()
	g := r.Group("/console", c.headers)
	static, _ := fs.Sub(assets, "static")
	g.StaticFileFS("/static/console.css", "console.css", http.FS(static))
	g.GET("", c.home)
	g.GET("/", c.home)
	g.GET("/sign-in", c.signInForm)
	g.POST("/sign-in", c.signIn)
	g.POST("/sign-out", c.session(), c.limit, c.csrf, c.signOut)
	g.POST("/stay", c.session(), c.limit, c.csrf, c.stay)

	fin := g.Group("/finance", c.session(partners.RoleFinance), c.limit)
	fin.GET("", c.financeReport)
	fin.GET("/orders", c.financeOrders)
	fin.GET("/report.csv", c.financeCSV)
	fin.GET("/purge", c.purgeConfirm)
	fin.POST("/purge", c.csrf, c.purgeStart)
	fin.GET("/runs", c.runs)
	fin.GET("/runs/:id", c.run)

	dpo := g.Group("/privacy", c.session(partners.RolePrivacy), c.limit)
	dpo.GET("", c.queue)
	dpo.POST("/requests", c.csrf, c.newRequest)
	dpo.GET("/requests/:id", c.request)
	dpo.GET("/requests/:id/export", c.export)
	dpo.GET("/requests/:id/reply", c.reply)
	dpo.POST("/requests/:id/rectify", c.csrf, c.rectify)
	dpo.POST("/requests/:id/orders", c.csrf, c.decide)
	dpo.POST("/requests/:id/extend", c.csrf, c.extend)
	dpo.POST("/requests/:id/lift", c.csrf, c.lift)
	dpo.POST("/requests/:id/:action", c.csrf, c.requestAction)
	dpo.GET("/record", c.record)
	dpo.GET("/breaches", c.breachList)
	dpo.POST("/breaches", c.csrf, c.newBreach)
	dpo.GET("/breaches/:id", c.breach)
	dpo.GET("/breaches/:id/notification", c.notification)
	dpo.GET("/breaches/:id/letters", c.letters)
	dpo.POST("/breaches/:id/:action", c.csrf, c.breachAction)

	ops := g.Group("", c.session(partners.RoleAdmin), c.limit)
	ops.GET("/deliveries", c.deliveries)
	ops.GET("/deliveries/replay", c.replayConfirm)
	ops.POST("/deliveries/replay", c.csrf, c.replaySince)
	ops.GET("/deliveries/:id", c.delivery)
	ops.POST("/deliveries/:id/replay", c.csrf, c.replayOne)
	ops.GET("/recipients", c.recipients)
	ops.POST("/recipients/:id/:action", c.csrf, c.setRecipient)
	ops.GET("/audit", c.audit)
	ops.POST("/audit/verify", c.csrf, c.verify)
}

// headers sets what every console answer carries: the strict policy, no
// caching of pages that may show personal data, no sniffing, no framing.
func (c *Console) headers(g *gin.Context) {
	h := g.Writer.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if g.Request.Method != http.MethodGet && g.Request.Method != http.MethodHead && !sameOrigin(g.Request) {
		// Forms, the sign-in form above all (login CSRF: another site
		// signing the browser in with the attacker's key), post only from
		// the console's own pages.
		c.fail(g, http.StatusForbidden, "The form was refused: it was sent from another site.")
		g.Abort()
		return
	}
	g.Next()
}

// sameOrigin reports whether a browser sent r from the console's own
// pages: Sec-Fetch-Site, where the browser sends it, is same-origin (or
// none: typed or bookmarked), and Origin, where sent, names this host.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// home sends a signed-in person to their role's page, anyone else to
// sign in.
func (c *Console) home(g *gin.Context) {
	s, ok := c.current(g)
	if !ok {
		g.Redirect(http.StatusSeeOther, "/console/sign-in")
		return
	}
	g.Redirect(http.StatusSeeOther, homeOf(s.Role))
}

func homeOf(r partners.Role) string {
	switch r {
	case partners.RoleFinance:
		return "/console/finance"
	case partners.RolePrivacy:
		return "/console/privacy"
	}
	return "/console/deliveries"
}
