package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store/storetest"
)

// server is the console alone over a real database, behind a real HTTP
// server, with a clock the test moves and the keys of every role.
type server struct {
	t     *testing.T
	srv   *httptest.Server
	c     *Console
	clock *base.FakeClock
	keys  map[partners.Role]string
}

func newServer(t *testing.T) *server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	db := storetest.Open(t)
	clock := &base.FakeClock{}
	log := &audit.Log{DB: db, Clock: clock.Now}
	ps := &partners.Store{DB: db, Clock: clock.Now, Audit: log}
	c := &Console{DB: db, Partners: ps, Audit: log, Clock: clock.Now,
		Deliveries: &sharing.Deliveries{DB: db, Clock: clock.Now, Audit: log}}
	r := gin.New()
	c.Register(r)
	s := &server{t: t, srv: httptest.NewServer(r), c: c, clock: clock, keys: map[partners.Role]string{}}
	t.Cleanup(s.srv.Close)
	ctx := context.Background()
	reseller, _, err := ps.Add(ctx, "test", partners.NewPartner{Kind: partners.KindReseller, Name: "Reseller"})
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []partners.Role{partners.RoleAdmin, partners.RoleFinance, partners.RolePrivacy, partners.RoleReseller} {
		owner := ""
		if role == partners.RoleReseller {
			owner = reseller.ID
		}
		_, secret, err := ps.CreateKey(ctx, "test", role, owner)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[role] = secret
	}
	return s
}

// browser is a client with its own cookies that does not follow
// redirects, so that each answer is seen as it is.
func (s *server) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get returns a page's status, location and body.
func (s *server) get(b *http.Client, path string) (int, string, string) {
	s.t.Helper()
	res, err := b.Get(s.srv.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// post sends a form as the console's own page would (same origin).
func (s *server) post(b *http.Client, path string, form url.Values, origin string) (int, string, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	res, err := b.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// signIn signs b in with key and returns the session's CSRF token.
func (s *server) signIn(b *http.Client, key string) (int, string) {
	s.t.Helper()
	code, _, page := s.get(b, "/console/sign-in")
	m := csrfField.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		s.t.Fatalf("sign-in page: %d, token found: %v", code, m != nil)
	}
	code, loc, _ := s.post(b, "/console/sign-in", url.Values{"csrf": {m[1]}, "key": {key}}, s.srv.URL)
	return code, loc
}

func TestSignInOpensASessionForTheRoleAndKeepsItToItsPages(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	b := s.browser()
	code, loc := s.signIn(b, s.keys[partners.RoleAdmin])
	if code != http.StatusSeeOther || loc != "/console/deliveries" {
		t.Fatalf("admin sign-in: %d to %q", code, loc)
	}
	code, _, page := s.get(b, "/console/deliveries")
	if code != http.StatusOK || !strings.Contains(page, "Deliveries") {
		t.Fatalf("deliveries page: %d", code)
	}
	if code, _, _ := s.get(b, "/console/finance"); code != http.StatusForbidden {
		t.Errorf("an admin session on the finance page: %d, want 403", code)
	}
	// The token is stored hashed: the cookie's value is nowhere in the table.
	u, _ := url.Parse(s.srv.URL + "/console/")
	var token string
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == cookieName {
			token = ck.Value
		}
	}
	var n int
	if err := s.c.DB.Reader.Get(&n, `SELECT COUNT(*) FROM console_sessions WHERE token_hash = $1`, tokenHash(token)); err != nil || n != 1 {
		t.Fatalf("session rows by the token's hash: %d %v", n, err)
	}
	if err := s.c.DB.Reader.Get(&n, `SELECT COUNT(*) FROM console_sessions WHERE token_hash = $1`, []byte(token)); err != nil || n != 0 {
		t.Errorf("the token itself is stored: %d %v", n, err)
	}
}

func TestHeadersRefuseFramingScriptsAndCaching(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	res, err := http.Get(s.srv.URL + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for h, want := range map[string]string{"Content-Security-Policy": csp, "Cache-Control": "no-store",
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	for _, ck := range res.Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" {
			t.Errorf("cookie %s: HttpOnly %v, SameSite %v, path %q", ck.Name, ck.HttpOnly, ck.SameSite, ck.Path)
		}
	}
}

func TestSignInRefusesBadKeysResellersForgedFormsAndOtherSites(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if code, _ := s.signIn(s.browser(), "hk_not_a_key"); code != http.StatusUnauthorized {
		t.Errorf("an unknown key: %d, want 401", code)
	}
	if code, _ := s.signIn(s.browser(), s.keys[partners.RoleReseller]); code != http.StatusForbidden {
		t.Errorf("a reseller key: %d, want 403", code)
	}
	// No sign-in token: a form another page made up.
	b := s.browser()
	if code, _, _ := s.post(b, "/console/sign-in", url.Values{"csrf": {"made-up"}, "key": {s.keys[partners.RoleAdmin]}}, s.srv.URL); code != http.StatusForbidden {
		t.Errorf("a sign-in without its token: %d, want 403", code)
	}
	// Another site posting the form (login CSRF), even with a token.
	_, _, page := s.get(b, "/console/sign-in")
	token := csrfField.FindStringSubmatch(page)[1]
	if code, _, _ := s.post(b, "/console/sign-in", url.Values{"csrf": {token}, "key": {s.keys[partners.RoleAdmin]}}, "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("a sign-in posted from another site: %d, want 403", code)
	}
	var n int
	if err := s.c.DB.Reader.Get(&n, `SELECT COUNT(*) FROM console_sessions`); err != nil || n != 0 {
		t.Errorf("refused sign-ins opened %d sessions (%v)", n, err)
	}
}

func TestFormsNeedTheSessionTokenAndSessionsEndWhenIdle(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	b := s.browser()
	s.signIn(b, s.keys[partners.RoleAdmin])
	_, _, page := s.get(b, "/console/deliveries")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page carries no CSRF token for its sign-out form")
	}
	if code, _, _ := s.post(b, "/console/sign-out", url.Values{"csrf": {"wrong"}}, s.srv.URL); code != http.StatusForbidden {
		t.Errorf("sign-out without the session's token: %d, want 403", code)
	}
	if code, _, _ := s.get(b, "/console/deliveries"); code != http.StatusOK {
		t.Fatalf("the refused form ended the session: %d", code)
	}
	if DefaultIdle != 15*time.Minute || DefaultLifetime != 8*time.Hour {
		t.Fatalf("sessions end after %v idle and %v in all, not the policy's 15 minutes and 8 hours", DefaultIdle, DefaultLifetime)
	}
	s.clock.Advance(DefaultIdle + time.Minute)
	if code, loc, _ := s.get(b, "/console/deliveries"); code != http.StatusSeeOther || loc != "/console/sign-in" {
		t.Errorf("an idle session: %d to %q, want sent to sign in", code, loc)
	}
	// Stay signed in renews the session; however it is used, it ends
	// after its lifetime.
	if code, loc := s.signIn(b, s.keys[partners.RoleAdmin]); code != http.StatusSeeOther || loc != "/console/deliveries" {
		t.Fatalf("signing in again: %d to %q", code, loc)
	}
	for i := range int(DefaultLifetime/(10*time.Minute)) - 1 { // to 7 h 50 min
		s.clock.Advance(10 * time.Minute)
		_, _, page = s.get(b, "/console/deliveries")
		m := csrfField.FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "Signed in until") {
			t.Fatalf("after %d renewals, a page of a live session does not say when it ends: %.300s", i, page)
		}
		if code, loc, _ := s.post(b, "/console/stay", url.Values{"csrf": {m[1]}, "back": {"/console/audit"}}, s.srv.URL); code != http.StatusSeeOther || loc != "/console/audit" {
			t.Fatalf("stay signed in: %d to %q", code, loc)
		}
	}
	s.clock.Advance(11 * time.Minute) // 11 minutes idle, 8 h 1 min since sign-in
	if code, loc, _ := s.get(b, "/console/deliveries"); code != http.StatusSeeOther || loc != "/console/sign-in" {
		t.Errorf("a session past its lifetime: %d to %q, want sent to sign in", code, loc)
	}
	// Signed in again, signing out ends the session for good.
	s.signIn(b, s.keys[partners.RoleAdmin])
	_, _, page = s.get(b, "/console/deliveries")
	if code, loc, _ := s.post(b, "/console/sign-out", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}}, s.srv.URL); code != http.StatusSeeOther || loc != "/console/sign-in" {
		t.Fatalf("sign-out: %d to %q", code, loc)
	}
	if code, _, _ := s.get(b, "/console/deliveries"); code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d, want sent to sign in", code)
	}
}
