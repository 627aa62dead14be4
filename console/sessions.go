package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
)

const (
	cookieName       = "husky_console"
	signInCookieName = "husky_console_sign_in"
	sessionKey       = "console_session"
)

// session is a signed-in person: the key they signed in with, its role,
// and the CSRF token their forms carry.
type session struct {
	hash     []byte
	KeyID    string
	Role     partners.Role
	CSRF     string
	created  time.Time
	lastSeen time.Time
}

// ends is when the session ends unless used again: its idle time after
// its last use, or its lifetime after sign-in, whichever comes first.
func (c *Console) ends(s session) time.Time {
	idle, life := s.lastSeen.Add(c.idle()), s.created.Add(c.lifetime())
	if life.Before(idle) {
		return life
	}
	return idle
}

// Actor names the person in the audit trail, like their key does in the API.
func (s session) Actor() string { return "key:" + s.KeyID }

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// cookie sets a console cookie: HttpOnly, SameSite=Strict, on /console
// only, Secure when the service speaks HTTPS; maxAge < 0 deletes it.
func (c *Console) cookie(g *gin.Context, name, value string, maxAge int) {
	secure := c.Secure || (c.HTTPS != nil && c.HTTPS(g))
	http.SetCookie(g.Writer, &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// current reads the request's session, if it has a live one: not idle for
// the idle timeout, not older than its lifetime, and its key neither
// revoked nor of another role since.
func (c *Console) current(g *gin.Context) (session, bool) {
	if s, ok := g.Get(sessionKey); ok {
		return s.(session), true
	}
	ck, err := g.Cookie(cookieName)
	if err != nil || ck == "" {
		return session{}, false
	}
	ctx := g.Request.Context()
	s, ok, err := c.sessions().get(ctx, tokenHash(ck))
	if err != nil && c.Logger != nil {
		c.Logger.Error("console session", "error", err.Error())
	}
	if !ok {
		return session{}, false
	}
	now := c.Clock.Now()
	if now.After(c.ends(s)) {
		c.end(g, s)
		return session{}, false
	}
	p, err := c.Partners.KeyPrincipal(ctx, s.KeyID)
	if err != nil || p.Role != s.Role {
		c.end(g, s)
		return session{}, false
	}
	// Written at most once a minute, so that reading pages does not keep
	// the database's one writer busy.
	if now.Sub(s.lastSeen) > time.Minute {
		if c.sessions().touch(ctx, s.hash, now) == nil {
			s.lastSeen = now
		}
	}
	g.Set(sessionKey, s)
	g.Set("key_id", s.KeyID)
	return s, true
}

// end deletes a session and its cookie.
func (c *Console) end(g *gin.Context, s session) {
	_ = c.sessions().end(g.Request.Context(), s.hash)
	c.cookie(g, cookieName, "", -1)
}

// session admits a request with a live session of one of roles (any role
// when none is given). Without one it is sent to sign in; with another
// role it gets 403.
func (c *Console) session(roles ...partners.Role) gin.HandlerFunc {
	return func(g *gin.Context) {
		s, ok := c.current(g)
		if !ok {
			if g.Request.Method == http.MethodGet {
				g.Redirect(http.StatusSeeOther, "/console/sign-in")
			} else {
				c.fail(g, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			}
			g.Abort()
			return
		}
		if len(roles) > 0 && !slices.Contains(roles, s.Role) {
			c.fail(g, http.StatusForbidden, "This page is not for the "+string(s.Role)+" role.")
			g.Abort()
			return
		}
		g.Next()
	}
}

// csrf refuses a form without the session's token (403).
func (c *Console) csrf(g *gin.Context) {
	s, _ := c.current(g)
	if got := g.PostForm("csrf"); s.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
		c.fail(g, http.StatusForbidden, "The form was refused: it did not carry this session's token. Reload the page and try again.")
		g.Abort()
		return
	}
	g.Next()
}

// signInForm shows the sign-in form with a fresh token in a cookie and in
// the form (a sign-in cannot use a session's token: there is none yet).
func (c *Console) signInForm(g *gin.Context) {
	if s, ok := c.current(g); ok {
		g.Redirect(http.StatusSeeOther, homeOf(s.Role))
		return
	}
	c.showSignIn(g, http.StatusOK, "")
}

func (c *Console) showSignIn(g *gin.Context, status int, problem string) {
	token := randomToken()
	c.cookie(g, signInCookieName, token, 600)
	c.render(g, status, "sign-in.html", "Sign in", map[string]any{"Token": token, "Problem": problem})
}

// signIn opens a session for a finance, privacy or admin key. Reseller
// keys are refused: the console is not for them.
func (c *Console) signIn(g *gin.Context) {
	ck, err := g.Cookie(signInCookieName)
	if err != nil || ck == "" || subtle.ConstantTimeCompare([]byte(ck), []byte(g.PostForm("csrf"))) != 1 {
		c.fail(g, http.StatusForbidden, "The sign-in form was refused: it did not carry its token. Open the sign-in page again.")
		return
	}
	ctx := g.Request.Context()
	key := strings.TrimSpace(g.PostForm("key"))
	counted, now := signInKeys(g.ClientIP(), key), c.Clock.Now()
	if wait := c.throttle.wait(now, counted); wait > 0 {
		if c.Metrics != nil {
			c.Metrics.SignInThrottled.Inc()
		}
		secs := int(math.Ceil(wait.Seconds()))
		g.Header("Retry-After", strconv.Itoa(secs))
		c.showSignIn(g, http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from here. Try again in %d seconds.", secs))
		return
	}
	p, err := c.Partners.Authenticate(ctx, key)
	if err != nil {
		c.throttle.fail(now, counted)
		if c.Metrics != nil {
			c.Metrics.SignInFailures.Inc()
		}
		c.showSignIn(g, http.StatusUnauthorized, "That is not a valid API key.")
		return
	}
	c.throttle.succeed(counted)
	if p.Role != partners.RoleFinance && p.Role != partners.RolePrivacy && p.Role != partners.RoleAdmin {
		c.showSignIn(g, http.StatusForbidden, "The console is for finance, privacy and admin keys; a reseller uses the API.")
		return
	}
	token, csrf, now := randomToken(), randomToken(), c.Clock.Now()
	err = c.DB.Tx(ctx, func(tx *store.Tx) error {
		s := newSession{TokenHash: tokenHash(token), KeyID: p.KeyID, Role: p.Role, CSRF: csrf, At: now}
		if err := c.sessions().open(ctx, tx, s, now.Add(-c.idle())); err != nil {
			return err
		}
		return c.Audit.Record(ctx, tx, p.Actor(), "console.signed_in", map[string]string{"key_id": p.KeyID},
			map[string]string{"role": string(p.Role)})
	})
	if err != nil {
		c.internal(g, err)
		return
	}
	c.cookie(g, signInCookieName, "", -1)
	c.cookie(g, cookieName, token, 0)
	g.Redirect(http.StatusSeeOther, homeOf(p.Role))
}

// stay renews the session ("stay signed in"), then shows the page it was
// asked from again.
func (c *Console) stay(g *gin.Context) {
	s, _ := c.current(g)
	if err := c.sessions().touch(g.Request.Context(), s.hash, c.Clock.Now()); err != nil {
		c.internal(g, err)
		return
	}
	back := g.PostForm("back")
	if !strings.HasPrefix(back, "/console/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = homeOf(s.Role)
	}
	g.Redirect(http.StatusSeeOther, back)
}

func (c *Console) signOut(g *gin.Context) {
	s, _ := c.current(g)
	c.end(g, s)
	g.Redirect(http.StatusSeeOther, "/console/sign-in")
}
