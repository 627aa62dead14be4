package main

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/milestone/husky/app"
)

// signInForm fetches the sign-in page and returns its token and cookie.
func signInForm(t *testing.T, e *testEnv, headers ...string) (string, *http.Cookie) {
	t.Helper()
	r := e.do(t, "GET", "/console/sign-in", "", nil, headers...)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(r.body)
	if m == nil || len((&http.Response{Header: r.header}).Cookies()) == 0 {
		t.Fatalf("sign-in form: %d %s", r.status, r.body)
	}
	return string(m[1]), (&http.Response{Header: r.header}).Cookies()[0]
}

// postSignIn submits the sign-in form with key from the given client
// address (through the trusted proxy's X-Forwarded-For).
func postSignIn(t *testing.T, e *testEnv, key, addr string, headers ...string) response {
	t.Helper()
	token, ck := signInForm(t, e)
	body := url.Values{"csrf": {token}, "key": {key}}.Encode()
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/sign-in", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	req.AddCookie(ck)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return response{status: res.StatusCode, header: res.Header}
}

func TestConsoleSignInIsThrottledAndCannotBeForged(t *testing.T) {
	t.Parallel()
	// The test's requests come through a trusted proxy on loopback, which
	// names the client in X-Forwarded-For.
	e := newTestEnvWith(t, func(c *app.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	wrong := "husky_admin_" + strings.Repeat("a", 52)
	for i := range 5 {
		if r := postSignIn(t, e, wrong, "203.0.113.7"); r.status != http.StatusUnauthorized {
			t.Fatalf("failed sign-in %d: %d", i, r.status)
		}
	}
	r := postSignIn(t, e, wrong, "203.0.113.7")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("the sixth failure: %d", r.status)
	}
	// The seventh waits, from that address, even with a good key…
	r = postSignIn(t, e, e.admin, "203.0.113.7")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("after six failures: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// …and guesses at the same key prefix from another address wait too.
	if r := postSignIn(t, e, wrong, "198.51.100.9"); r.status != http.StatusTooManyRequests {
		t.Errorf("the same key prefix from another address: %d", r.status)
	}
	// Another address with a real key signs in.
	if r := postSignIn(t, e, e.finance, "198.51.100.10"); r.status != http.StatusSeeOther {
		t.Errorf("a good sign-in from elsewhere: %d", r.status)
	}
	m := metricsBody(t, e)
	if !strings.Contains(m, "husky_console_signin_failures_total 6") || !regexp.MustCompile(`husky_console_signin_throttled_total [1-9]`).MatchString(m) {
		t.Errorf("sign-in metrics:\n%s", grepLines(m, "husky_console_signin"))
	}

	// Sign-in from another site is refused (login CSRF), whatever it carries.
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		if r := postSignIn(t, e, e.privacy, "192.0.2.1", h...); r.status != http.StatusForbidden {
			t.Errorf("a sign-in with %s: %s: %d, want 403", h[0], h[1], r.status)
		}
	}
	if r := postSignIn(t, e, e.privacy, "192.0.2.2", "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"); r.status != http.StatusSeeOther {
		t.Errorf("a same-origin sign-in: %d", r.status)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestConsoleCookiesAreSecureBehindATrustedProxyOnly(t *testing.T) {
	t.Parallel()
	secure := func(e *testEnv, headers ...string) bool {
		_, ck := signInForm(t, e, headers...)
		return ck.Secure
	}
	trusted := newTestEnvWith(t, func(c *app.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	if !secure(trusted, "X-Forwarded-Proto", "https") {
		t.Error("behind a trusted proxy that speaks HTTPS, the cookie is not Secure")
	}
	if secure(trusted) {
		t.Error("a plain request made the cookie Secure")
	}
	untrusted := newTestEnv(t)
	if secure(untrusted, "X-Forwarded-Proto", "https") {
		t.Error("X-Forwarded-Proto from a proxy nobody trusts was believed")
	}
	always := newTestEnvWith(t, func(c *app.Config) { c.SecureCookies = true })
	if !secure(always) {
		t.Error("HUSKY_SECURE_COOKIES=true did not mark the cookie Secure")
	}
	// The defaults: no proxy is trusted, cookies are Secure only with TLS.
	if cfg := testConfig(t); len(cfg.TrustedProxies) != 0 || cfg.SecureCookies {
		t.Errorf("defaults: %v %v", cfg.TrustedProxies, cfg.SecureCookies)
	}
	if _, err := configWith(map[string]string{"HUSKY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1, nonsense"}); err == nil || !strings.Contains(err.Error(), `"nonsense"`) {
		t.Errorf("a bad proxy list: %v", err)
	}
}

func TestConsolePagesCountAgainstTheKeysRateLimit(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, func(c *app.Config) { c.RateLimit = 1 })
	c := consoleClient(t, e, e.admin)
	limited := 0
	for range 6 {
		res, err := c.Get(e.srv.URL + "/console/audit")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("console pages are outside the per-key rate limit")
	}
}
