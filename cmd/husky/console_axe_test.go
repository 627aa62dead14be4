package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeVersion is the axe-core release `make axe` installs (.lint/).
const axeVersion = "4.14.1"

// axeSource is axe-core's script: HUSKY_TEST_AXE, or where `make axe`
// puts it. Without it the accessibility check is skipped, except where
// the browser tests must run (CI), where it fails.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HUSKY_TEST_AXE")
	if path == "" {
		path = filepath.Join("..", "..", ".lint", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("HUSKY_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("axe-core is not installed (%v): run `make axe`", err)
		}
		t.Skipf("axe-core is not installed (run `make axe`): the console's accessibility check is skipped")
	}
	if !strings.Contains(string(b[:min(len(b), 200)]), axeVersion) {
		t.Fatalf("%s is not axe-core %s", path, axeVersion)
	}
	return string(b)
}

// axeFinding is one rule a page breaks, as axe reports it.
type axeFinding struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
}

// axeRun runs axe on the page with WCAG 2.2 A and AA and best practices,
// and returns what it found.
const axeRun = `(async () => {
	const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
	return JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help, nodes: v.nodes.length})));
})()`

// minorFindings are the minor or moderate axe findings the console keeps,
// each with its reason in docs/console.md ("Accessibility").
var minorFindings = map[string]bool{}

// checkEveryPage visits the sign-in page, then signs in with each key and
// visits every console page its links reach, at a laptop's and a phone's
// width: axe must find nothing critical or serious and nothing minor
// outside minorFindings, and no page may be wider than the phone's
// window. It returns how many page views it checked.
func checkEveryPage(t *testing.T, ctx context.Context, w *consoleWorld, keys map[string]string) int {
	t.Helper()
	axe := axeSource(t)
	seen := 0
	check := func(who string, pages []string) {
		for _, width := range []int64{1280, 390} {
			do(t, ctx, "width", chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile))
			for _, p := range pages {
				do(t, ctx, p, chromedp.Navigate(w.url(p)), chromedp.WaitReady(chromedp.CSS("body")))
				checkPage(t, ctx, axe, fmt.Sprintf("%s at %d px (%s)", p, width, who), width)
				seen++
			}
		}
		do(t, ctx, "laptop", chromedp.EmulateViewport(1280, 900))
	}
	signIn(t, ctx, w, keys[slices.Sorted(maps.Keys(keys))[0]])
	signOut(t, ctx)
	check("signed out", []string{"/console/sign-in"})
	for _, role := range slices.Sorted(maps.Keys(keys)) {
		signIn(t, ctx, w, keys[role])
		pages := crawl(t, ctx, w)
		t.Logf("%s: %d pages: %v", role, len(pages), pages)
		check(role, pages)
		signOut(t, ctx)
	}
	return seen
}

// checkPage runs axe on the page in the browser and, at a phone's width,
// measures that the page is no wider than the window.
func checkPage(t *testing.T, ctx context.Context, axe, where string, width int64) {
	t.Helper()
	if width <= 390 {
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth <= window.innerWidth + 1"))
		if err != nil || !fits {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
			t.Errorf("%s: %d px wide", where, wide)
		}
	}
	c, cancel := step(ctx)
	defer cancel()
	raw, err := chromedp.Run(c, chromedp.Evaluate[string](axe+"\n;"+axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", where, err)
	}
	var found []axeFinding
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("axe on %s: %v", where, err)
	}
	for _, f := range found {
		if f.Impact == "critical" || f.Impact == "serious" || !minorFindings[f.ID] {
			t.Errorf("%s: %s %s (%s, %d elements)", where, f.Impact, f.ID, f.Help, f.Nodes)
		}
	}
}

// pageIDs are the service's ids in a path or a query.
var pageIDs = regexp.MustCompile(`[a-z]{2,4}_[0-9a-f]{32}`)

// crawl lists the console pages reachable from the signed-in landing
// page by links, breadth first: every path under /console/ once (a query
// string makes another page), but downloads and sign-in.
func crawl(t *testing.T, ctx context.Context, w *consoleWorld) []string {
	t.Helper()
	start := strings.TrimPrefix(location(t, ctx), w.server.URL)
	queue, seen, kinds := []string{start}, map[string]bool{start: true}, map[string]int{}
	for i := 0; i < len(queue) && len(queue) < 80; i++ {
		do(t, ctx, "crawl "+queue[i], chromedp.Navigate(w.url(queue[i])), chromedp.WaitReady(chromedp.CSS("body")))
		links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a[href]')].map(a => a.href)`))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			u, err := url.Parse(l)
			if err != nil || u.Host != strings.TrimPrefix(w.server.URL, "http://") || !strings.HasPrefix(u.Path, "/console/") ||
				strings.HasSuffix(u.Path, ".csv") || strings.Contains(u.RawQuery, "format=csv") || strings.Contains(u.RawQuery, "format=json") ||
				strings.HasPrefix(u.Path, "/console/sign-") || strings.HasPrefix(u.Path, "/console/static/") {
				continue
			}
			p := u.Path
			if u.RawQuery != "" {
				p += "?" + u.RawQuery
			}
			// Two pages of each kind (two deliveries, two requests) are
			// enough: the rest share their template.
			kind := pageIDs.ReplaceAllString(p, "ID")
			if !seen[p] && kinds[kind] < 2 {
				seen[p] = true
				kinds[kind]++
				queue = append(queue, p)
			}
		}
	}
	if len(queue) < 3 {
		t.Fatalf("the crawl from %s found only %v", start, queue)
	}
	return queue
}
