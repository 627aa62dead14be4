package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/console"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sharing"
)

func deliveryFilterStatus(st string) sharing.ListFilter {
	return sharing.ListFilter{Status: sharing.Status(st), Limit: 100}
}

// chromium finds the browser the console tests drive: Debian's package,
// which .ci/run installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HUSKY_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("HUSKY_REQUIRE_CHROMIUM") != "" {
		t.Fatal("no Chromium on this machine, and HUSKY_REQUIRE_CHROMIUM says the browser tests must run (.ci/run installs it)")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium, or set HUSKY_TEST_CHROMIUM): the console's browser tests are skipped")
	return ""
}

// browser starts a headless Chromium with the flags this machine's closed
// network needs, and records every URL its pages navigate to or request.
func browser(t *testing.T) (context.Context, *urlLog) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	log := &urlLog{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(log.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx, log
}

// urlLog keeps every URL the browser visited or requested.
type urlLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *urlLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case *page.EventFrameNavigated:
		l.urls = append(l.urls, e.Frame.URL)
	case *network.EventRequestWillBeSent:
		l.urls = append(l.urls, e.Request.URL)
	}
}

func (l *urlLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// consoleWorld is an app with data for every page: orders past
// retention, a person with orders, deliveries delivered and dead.
type consoleWorld struct {
	*testEnv
	clock  *base.FakeClock
	server *httptest.Server
	sink   *hookSink
	broken partners.Partner
}

func newConsoleWorld(t *testing.T) *consoleWorld {
	t.Helper()
	e := newTestEnv(t)
	w := &consoleWorld{testEnv: e, clock: &base.FakeClock{}, sink: newHookSink(t)}
	ctx := context.Background()
	importLegacy(t, e)
	if _, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Live Carrier", EndpointURL: w.sink.srv.URL}); err != nil {
		t.Fatal(err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { http.Error(rw, "down", 500) }))
	t.Cleanup(broken.Close)
	var err error
	if w.broken, _, err = e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindManufacturer, Name: "Broken Maker", EndpointURL: broken.URL}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := range 30 {
		e.submit(t, e.keyA, sampleOrder(t, withRef(fmt.Sprintf("PO-CONSOLE-%d", i))))
	}
	waitUntil(t, "deliveries to the broken maker die", func() bool {
		ds, _, _ := e.app.Deliveries.List(ctx, deliveryFilterStatus("dead"))
		return len(ds) >= 30
	})
	// The console's clock can be moved, to end sessions.
	e.app.Clock = w.clock.Now
	w.server = httptest.NewServer(e.app.Handler())
	t.Cleanup(w.server.Close)
	return w
}

func (w *consoleWorld) url(path string) string { return w.server.URL + path }

// signIn signs in with key using the keyboard only: the key field has
// focus, Enter submits. It waits for the signed-in page (the sign-out
// button), or with refused, for the refusal.
func signIn(t *testing.T, ctx context.Context, w *consoleWorld, key string, refused ...bool) {
	t.Helper()
	done := chromedp.WaitVisible(chromedp.CSS("form[action='/console/sign-out'] button"))
	if len(refused) > 0 && refused[0] {
		done = chromedp.WaitVisible(chromedp.CSS("p.problem"))
	}
	// Whatever the last step left, start signed out.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "sign in", chromedp.Navigate(w.url("/console/sign-in")), chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.Focus(chromedp.CSS("#key")), chromedp.KeyEvent(key), chromedp.KeyEvent("\r"), done)
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("form[action='/console/sign-out'] button")), chromedp.WaitVisible(chromedp.CSS("#key")))
}

// step bounds one browser step, so that a wait that never ends fails
// that step rather than everything after it.
func step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 20*time.Second)
}

// until waits for a condition on the page, checked in the test (the
// console itself runs no script).
func until(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			// A navigation may destroy the page under the check: try again.
			if ok, err := chromedp.Evaluate[bool](js)(ctx, tg); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", js, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// shows waits until the main part of the page holds s.
func shows(s string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf("document.querySelector('main') && document.querySelector('main').innerText.includes(%q)", s))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	l, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := step(ctx)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot keeps a picture of the page for README (HUSKY_SCREENSHOTS=1
// writes docs/console-NAME.png) and checks that nothing overflows the
// viewport's width.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth <= window.innerWidth + 1"))
	if err != nil || !fits {
		t.Errorf("%s: the page is wider than the window (%v)", name, err)
	}
	if os.Getenv("HUSKY_SCREENSHOTS") == "" || name == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "console-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConsoleInABrowser(t *testing.T) {
	w := newConsoleWorld(t)
	ctx, urls := browser(t)

	t.Run("reseller_keys_are_refused", func(t *testing.T) {
		signIn(t, ctx, w, w.keyA, true)
		if got := text(t, ctx, "main"); !strings.Contains(got, "for finance, privacy and admin keys") {
			t.Errorf("a reseller key was not refused: %s", got)
		}
		if r := w.get(t, ctx, "/console/deliveries"); !strings.Contains(r, `id="key"`) {
			t.Error("a refused reseller reached a page")
		}
	})

	t.Run("finance_reports_drills_down_downloads_and_purges", func(t *testing.T) {
		signIn(t, ctx, w, w.finance)
		if l := location(t, ctx); !strings.HasSuffix(l, "/console/finance") {
			t.Fatalf("finance landed on %s", l)
		}
		do(t, ctx, "chart", chromedp.WaitVisible(chromedp.CSS("svg.chart rect.bar-purgeable")))
		summary := text(t, ctx, "main > p:nth-of-type(1)")
		if got := text(t, ctx, "main"); !strings.Contains(got, "Records of completed data-subject requests the purge would delete (kept 3 years") {
			t.Errorf("the finance page does not show the request records due: %.600s", got)
		}
		screenshot(t, ctx, "finance")
		do(t, ctx, "drill down", chromedp.Click(chromedp.CSS("td a[href*='category=purgeable']")), shows("Ids, dates and status only"))
		if rows := text(t, ctx, "main table tbody"); !strings.Contains(rows, "ord_") || strings.Contains(rows, "@") {
			t.Errorf("drill-down rows: %s", rows)
		}
		do(t, ctx, "back to the report", chromedp.Navigate(w.url("/console/finance")), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
		csv := w.get(t, ctx, "/console/finance/report.csv")
		if !strings.HasPrefix(csv, "category,order_id,") {
			t.Errorf("CSV: %.100s", csv)
		}
		do(t, ctx, "purge confirmation", chromedp.Click(chromedp.CSS("a[href='/console/finance/purge']")), chromedp.WaitVisible(chromedp.CSS("button.danger")))
		n := regexp.MustCompile(`(\d+) purgeable`).FindStringSubmatch(summary)
		if confirm := text(t, ctx, "main"); n == nil || !strings.Contains(confirm, n[1]+" orders") {
			t.Fatalf("the confirmation does not name the count %v: %s", n, confirm)
		}
		do(t, ctx, "start the purge", chromedp.Click(chromedp.CSS("button.danger")), shows("Evidence digest"))
		if l := location(t, ctx); !strings.Contains(l, "/console/finance/runs/pur_") {
			t.Fatalf("after starting: %s", l)
		}
		deadline := time.Now().Add(30 * time.Second)
		// The run's status is the first fact; other facts may say "completed" too.
		for !strings.HasPrefix(text(t, ctx, "dl.facts dd:first-of-type"), "completed") && time.Now().Before(deadline) {
			do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
		}
		if got := text(t, ctx, "main"); !strings.HasPrefix(text(t, ctx, "dl.facts dd:first-of-type"), "completed") || !strings.Contains(got, "Erasure notices per recipient") {
			t.Errorf("run page: %s", got)
		}
		do(t, ctx, "runs", chromedp.Navigate(w.url("/console/finance/runs")), chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, ctx, "main table tbody"); !strings.Contains(got, "completed") {
			t.Errorf("runs: %s", got)
		}
		signOut(t, ctx)
	})

	t.Run("dpo_logs_reviews_exports_rectifies_restricts_erases", func(t *testing.T) {
		signIn(t, ctx, w, w.privacy)
		logRequest := func(typ string) string {
			t.Helper()
			do(t, ctx, "log a "+typ+" request", chromedp.Navigate(w.url("/console/privacy")), chromedp.WaitVisible(chromedp.CSS("#email")),
				chromedp.SetValue(chromedp.CSS("#type"), typ), chromedp.SendKeys(chromedp.CSS("#email"), "jane@example.dk"),
				chromedp.Submit(chromedp.CSS("#email")), shows("Candidate orders"))
			l := location(t, ctx)
			if !strings.Contains(l, "/console/privacy/requests/dsr_") {
				t.Fatalf("after logging: %s", l)
			}
			return l
		}
		none := func(sel string) chromedp.Action[chromedp.Void] {
			return until(fmt.Sprintf("document.querySelector(%q) === null", sel))
		}
		access := logRequest("access")
		do(t, ctx, "the queue", chromedp.Navigate(w.url("/console/privacy")), shows("dsr_"))
		screenshot(t, ctx, "privacy")
		do(t, ctx, "the request", chromedp.Navigate(access), shows("Candidate orders"))
		if got := text(t, ctx, "main table tbody"); strings.Count(got, "ord_") < 30 || !strings.Contains(got, "included") {
			t.Errorf("candidate orders: %s", got)
		}
		// An access request offers its own actions only.
		do(t, ctx, "no erase on an access request", none("form[action$='/erase']"), none("form[action$='/restrict']"),
			none("form[action$='/lift']"), none("#r-phone"))
		screenshot(t, ctx, "")
		first := text(t, ctx, "main table tbody tr:first-child td:first-child")
		do(t, ctx, "exclude one", chromedp.SetValue(chromedp.CSS("main table tbody tr:first-child select"), "exclude"),
			chromedp.SendKeys(chromedp.CSS("#decide-reason"), "not the caller's"), chromedp.Submit(chromedp.CSS("#decide-reason")),
			until("document.querySelector('main table tbody tr:first-child').innerText.includes('excluded')"))
		do(t, ctx, "export", chromedp.Click(chromedp.CSS("a[href$='/export']")), until("document.body.innerText.includes('Your rights')"))
		if got := text(t, ctx, "body"); !strings.Contains(got, "jane@example.dk") || !strings.Contains(got, "Live Carrier") || strings.Contains(got, first) {
			t.Errorf("export (the excluded order %s must be left out): %.300s", first, got)
		}

		do(t, ctx, "a rectification", chromedp.Navigate(logRequest("rectification")), chromedp.WaitVisible(chromedp.CSS("#r-phone")))
		do(t, ctx, "bad rectification", chromedp.SendKeys(chromedp.CSS("#r-phone"), "12"), chromedp.Submit(chromedp.CSS("#r-phone")),
			chromedp.WaitVisible(chromedp.CSS(".field-error")))
		if got := text(t, ctx, "#r-phone + .field-error"); !strings.Contains(got, "country code") {
			t.Errorf("the phone's error is not beside it: %s", got)
		}
		do(t, ctx, "rectify", chromedp.SendKeys(chromedp.CSS("#r-phone"), "+4540404040"), chromedp.Submit(chromedp.CSS("#r-phone")),
			shows("rectified by"))

		restriction := logRequest("restriction")
		do(t, ctx, "restrict", chromedp.Click(chromedp.CSS("form[action$='/restrict'] button")), shows("restricted by"))
		do(t, ctx, "lift without telling", chromedp.SendKeys(chromedp.CSS("#lift-reason"), "verified"), chromedp.Submit(chromedp.CSS("#lift-reason")),
			chromedp.WaitVisible(chromedp.CSS("#lift-told + .field-error")))
		do(t, ctx, "lift", chromedp.Navigate(restriction), chromedp.WaitVisible(chromedp.CSS("#lift-reason")),
			chromedp.SendKeys(chromedp.CSS("#lift-reason"), "the accuracy was verified"),
			chromedp.SetValue(chromedp.CSS("#lift-told"), time.Now().UTC().Format(time.DateOnly)), chromedp.Submit(chromedp.CSS("#lift-reason")),
			shows("lifted by"))

		erasure := logRequest("erasure")
		do(t, ctx, "extend", chromedp.SendKeys(chromedp.CSS("#extend-reason"), "the paper archive must be searched"),
			chromedp.Submit(chromedp.CSS("#extend-reason")), shows("Tell the person by"))
		do(t, ctx, "erase", chromedp.Navigate(erasure), chromedp.WaitVisible(chromedp.CSS("form[action$='/erase'] button")),
			chromedp.Click(chromedp.CSS("form[action$='/erase'] button")), shows("erasure by"))
		do(t, ctx, "expand the steps", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool]("document.querySelectorAll('details').forEach(d => d.open = true), true")(ctx, tg)
			return err
		}))
		if got := text(t, ctx, "ol.steps"); !strings.Contains(got, ": scheduled") {
			t.Errorf("steps: %s", got)
		}
		do(t, ctx, "the reply", chromedp.Click(chromedp.CSS("a[href$='/reply']")), until("document.body.innerText.includes('Art. 77')"))
		if got := text(t, ctx, "body"); !strings.Contains(got, "paper archive") || !strings.Contains(got, "when it is closed") {
			t.Errorf("reply: %.400s", got)
		}
		do(t, ctx, "complete", chromedp.Navigate(erasure), chromedp.WaitVisible(chromedp.CSS("form[action$='/complete'] button")),
			chromedp.Click(chromedp.CSS("form[action$='/complete'] button")), shows("completed by"))
		if got := text(t, ctx, "dl.facts"); !strings.Contains(got, "completed") {
			t.Errorf("completed: %s", got)
		}
		do(t, ctx, "record", chromedp.Navigate(w.url("/console/privacy/record")), chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, ctx, "main"); !strings.Contains(got, "Live Carrier") || !strings.Contains(got, "Technical and organisational measures") {
			t.Errorf("record: %.300s", got)
		}
		signOut(t, ctx)
	})

	t.Run("dpo_records_a_breach_notifies_and_writes_letters", func(t *testing.T) {
		var carrier string
		ps, _ := w.app.Partners.List(context.Background())
		for _, p := range ps {
			if p.Name == "Live Carrier" {
				carrier = p.ID
			}
		}
		signIn(t, ctx, w, w.privacy)
		do(t, ctx, "the register", chromedp.Navigate(w.url("/console/privacy/breaches")), chromedp.WaitVisible(chromedp.CSS("#description")))
		do(t, ctx, "record nothing", chromedp.Submit(chromedp.CSS("#description")), shows("The breach was not recorded"))
		if got := text(t, ctx, "main form"); !strings.Contains(got, "name the recipients") || !strings.Contains(got, "describe the nature") {
			t.Errorf("the refused form names no field: %s", got)
		}
		do(t, ctx, "record a breach at the carrier", chromedp.Click(chromedp.CSS("input[name=where][value='"+carrier+"']")),
			chromedp.SetValue(chromedp.CSS("#from"), "2020-01-01T00:00"), chromedp.SetValue(chromedp.CSS("#aware_at"), "2026-12-01T09:00"),
			chromedp.SendKeys(chromedp.CSS("#description"), "The carrier's label printer share was open."),
			chromedp.Submit(chromedp.CSS("#description")), shows("What it touched"))
		if got := text(t, ctx, "main"); !strings.Contains(got, "overdue") || !strings.Contains(got, "Live Carrier") ||
			!strings.Contains(got, "contact details: phone number") || strings.Contains(got, "jane@") {
			t.Errorf("the breach page: %.800s", got)
		}
		screenshot(t, ctx, "breach")
		do(t, ctx, "late without a reason", chromedp.Submit(chromedp.CSS("#late_reason")), shows("give the reasons for the delay"))
		do(t, ctx, "notified late", chromedp.SendKeys(chromedp.CSS("#late_reason"), "The carrier told us late."),
			chromedp.Submit(chromedp.CSS("#late_reason")), shows("(late: The carrier told us late.)"))
		do(t, ctx, "high risk", chromedp.SetValue(chromedp.CSS("#high"), "yes"), chromedp.SendKeys(chromedp.CSS("#reason"), "Phone and address together."),
			chromedp.SendKeys(chromedp.CSS("#advice"), "Be wary of calls about a delivery."), chromedp.Submit(chromedp.CSS("#advice")),
			shows("high: Phone and address together."))
		do(t, ctx, "letters", chromedp.Click(chromedp.CSS("a[href$='/letters']")), shows("Dear "))
		if got := text(t, ctx, "main"); !strings.Contains(got, "jane@example.dk") || !strings.Contains(got, "Be wary of calls about a delivery.") {
			t.Errorf("letters: %.500s", got)
		}
		do(t, ctx, "the register again", chromedp.Navigate(w.url("/console/privacy/breaches")), chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, ctx, "main table tbody"); !strings.Contains(got, "(late)") {
			t.Errorf("register: %s", got)
		}
		if doc := w.get(t, ctx, "/console/privacy/breaches/"+strings.TrimPrefix(text(t, ctx, "main table tbody tr:first-child code"), "")+"/notification"); !strings.Contains(doc, "Notification of a personal data breach") {
			t.Errorf("notification page: %.300s", doc)
		}
		signOut(t, ctx)
	})

	t.Run("operators_filter_page_replay_and_verify", func(t *testing.T) {
		signIn(t, ctx, w, w.admin)
		screenshot(t, ctx, "operators")
		do(t, ctx, "filter dead", chromedp.SetValue(chromedp.CSS("#status"), "dead"), chromedp.Submit(chromedp.CSS("#status")),
			until("location.search.includes('status=dead')"), chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, ctx, "main table tbody"); strings.Contains(got, "delivered") || !strings.Contains(got, "dead") {
			t.Errorf("dead filter: %s", got)
		}
		do(t, ctx, "all", chromedp.Navigate(w.url("/console/deliveries")), chromedp.WaitVisible(chromedp.CSS("a.button")))
		first := text(t, ctx, "main table tbody tr:first-child td:first-child")
		do(t, ctx, "next page", chromedp.Click(chromedp.CSS("a.button[href*='after=']")), until("location.search.includes('after=')"),
			chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, ctx, "main table tbody"); strings.Contains(got, first) || !strings.Contains(got, "msg_") {
			t.Errorf("the next page repeats %s: %s", first, got)
		}
		do(t, ctx, "one delivery", chromedp.Click(chromedp.CSS("main table tbody a")), shows("Payload SHA-256"))
		do(t, ctx, "replay one", chromedp.Click(chromedp.CSS("form[action$='/replay'] button")), shows("Queued again"))
		do(t, ctx, "replay since", chromedp.Navigate(w.url("/console/deliveries")), chromedp.WaitVisible(chromedp.CSS("#since")),
			chromedp.SetValue(chromedp.CSS("#since"), "2020-01-01T00:00"), chromedp.Submit(chromedp.CSS("#since")),
			shows("dead deliveries"))
		if got := text(t, ctx, "main"); !regexp.MustCompile(`\d+ dead deliveries`).MatchString(got) {
			t.Errorf("the confirmation does not name the count: %s", got)
		}
		do(t, ctx, "replay them", chromedp.Click(chromedp.CSS("main form button")), shows("are queued again"))
		do(t, ctx, "recipients", chromedp.Navigate(w.url("/console/recipients")), chromedp.WaitVisible(chromedp.CSS("main table")))
		do(t, ctx, "disable", chromedp.Click(chromedp.CSS("form[action$='/"+w.broken.ID+"/disable'] button")), shows("disabled (operator)"))
		do(t, ctx, "enable", chromedp.Click(chromedp.CSS("form[action$='/"+w.broken.ID+"/enable'] button")),
			until("!document.querySelector('main').innerText.includes('disabled (operator)')"))
		do(t, ctx, "audit", chromedp.Navigate(w.url("/console/audit")), chromedp.WaitVisible(chromedp.CSS("dl.facts")),
			chromedp.Click(chromedp.CSS("form[action$='/verify'] button")), chromedp.WaitVisible(chromedp.CSS(".result")))
		if got := text(t, ctx, ".result"); !strings.Contains(got, "Verified") {
			t.Errorf("verification: %s", got)
		}
	})

	t.Run("forms_without_the_csrf_token_are_refused", func(t *testing.T) {
		for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
			if st := w.post(t, ctx, "/console/recipients/"+w.broken.ID+"/disable", form); st != http.StatusForbidden {
				t.Errorf("a form with csrf %q: %d, want 403", form.Get("csrf"), st)
			}
		}
		if p, _ := w.app.Partners.Get(context.Background(), w.broken.ID); !p.Enabled {
			t.Error("a refused form changed something")
		}
	})

	t.Run("phone_width", func(t *testing.T) {
		do(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, p := range []string{"/console/deliveries", "/console/recipients", "/console/audit"} {
			do(t, ctx, p, chromedp.Navigate(w.url(p)), chromedp.WaitVisible(chromedp.CSS("main h1")))
			name := ""
			if p == "/console/deliveries" {
				name = "operators-phone"
			}
			screenshot(t, ctx, name)
		}
		do(t, ctx, "laptop", chromedp.EmulateViewport(1280, 900))
	})

	t.Run("sessions_end_when_idle_and_when_the_key_is_revoked", func(t *testing.T) {
		// The policy: 15 idle minutes by default, whatever the test set.
		if cfg, err := configWith(nil); err != nil || cfg.ConsoleIdle != 15*time.Minute || cfg.ConsoleLifetime != 8*time.Hour {
			t.Fatalf("the console's sessions end after %v idle, %v in all, not 15 minutes and 8 hours (%v)", cfg.ConsoleIdle, cfg.ConsoleLifetime, err)
		}
		signIn(t, ctx, w, w.admin)
		if got := text(t, ctx, "header .session p"); !strings.Contains(got, "Signed in until") || !strings.Contains(got, "15 minutes after your last page") {
			t.Errorf("the page does not say when the session ends: %q", got)
		}
		w.clock.Advance(10 * time.Minute)
		before, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.querySelector('header .session time').getAttribute('datetime')"))
		if err != nil || before == "" {
			t.Fatalf("the session's end: %q %v", before, err)
		}
		// The page comes back with a later end: the renewal was made.
		do(t, ctx, "stay signed in", chromedp.Click(chromedp.CSS("form[action='/console/stay'] button")),
			until(fmt.Sprintf("!!document.querySelector('header .session time') && document.querySelector('header .session time').getAttribute('datetime') !== %q", before)))
		w.clock.Advance(10 * time.Minute)
		do(t, ctx, "20 minutes after sign-in, 10 after staying", chromedp.Navigate(w.url("/console/deliveries")), chromedp.WaitVisible(chromedp.CSS("main table")))
		w.clock.Advance(console.DefaultIdle + time.Minute)
		do(t, ctx, "16 idle minutes later", chromedp.Navigate(w.url("/console/deliveries")), chromedp.WaitVisible(chromedp.CSS("#key")))
		k, key, err := w.app.Partners.CreateKey(context.Background(), "test", partners.RoleAdmin, "")
		if err != nil {
			t.Fatal(err)
		}
		signIn(t, ctx, w, key)
		if err := w.app.Partners.RevokeKey(context.Background(), "test", k.ID); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "after revocation", chromedp.Navigate(w.url("/console/audit")), chromedp.WaitVisible(chromedp.CSS("#key")))
	})

	t.Run("every_page_passes_axe_at_1280_and_390_px", func(t *testing.T) {
		n := checkEveryPage(t, ctx, w, map[string]string{"finance": w.finance, "privacy": w.privacy, "admin": w.admin})
		t.Logf("axe-core %s ran on %d page views", axeVersion, n)
	})

	t.Run("no_personal_value_in_any_url", func(t *testing.T) {
		all := urls.all()
		if len(all) < 20 {
			t.Fatalf("only %d URLs recorded", len(all))
		}
		for _, u := range all {
			for _, v := range []string{"jane", "example.dk", "33123456", "4040404040", "Banemarksvej", "Jane"} {
				if strings.Contains(u, v) || strings.Contains(strings.ToLower(u), strings.ToLower(url.QueryEscape(v))) {
					t.Errorf("the browser visited %s, which holds %q", u, v)
				}
			}
		}
	})
}

// cookies returns the browser's cookies for the console.
func (w *consoleWorld) cookies(t *testing.T, ctx context.Context) []*http.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{w.url("/console")}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*http.Cookie
	for _, c := range res.Cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

// get fetches a page with the browser's session, outside the browser.
func (w *consoleWorld) get(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", w.url(path), nil)
	for _, c := range w.cookies(t, ctx) {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := ioReadAll(res)
	return string(b)
}

// post sends a form with the browser's session, as a forged one would be.
func (w *consoleWorld) post(t *testing.T, ctx context.Context, path string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest("POST", w.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range w.cookies(t, ctx) {
		req.AddCookie(c)
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
