package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/partners"
)

// view is what every page template gets.
type view struct {
	Title   string
	Role    partners.Role
	CSRF    string
	Path    string
	Data    any
	Problem string
	// Ends is when the session ends unless used again; Idle is the idle
	// timeout that says so.
	Ends time.Time
	Idle time.Duration
}

var funcs = template.FuncMap{
	"minutes": func(d time.Duration) int { return int(d.Minutes()) },
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		}
		return ""
	},
	"datetime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	// query builds a query string of ids, dates and filters (never a
	// personal value: none reaches a URL).
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(q.Encode())
	},
	"join": strings.Join,
	// fields pairs form field names with their labels.
	"fields": func(kv ...string) []struct{ Key, Label string } {
		var out []struct{ Key, Label string }
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, struct{ Key, Label string }{kv[i], kv[i+1]})
		}
		return out
	},
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}

// parse reads every page template with the layout, once.
func (c *Console) parse() {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		c.pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(assets, "templates/layout.html", n))
	}
}

// render writes a page inside the layout. It renders into a buffer first,
// so that a template error becomes a clean 500 rather than half a page.
func (c *Console) render(g *gin.Context, status int, page, title string, data any) {
	v := view{Title: title, Path: g.Request.URL.Path, Data: data}
	if s, ok := c.current(g); ok {
		v.Role, v.CSRF, v.Ends, v.Idle = s.Role, s.CSRF, c.ends(s), c.idle()
	}
	if m, ok := data.(map[string]any); ok {
		if p, ok := m["Problem"].(string); ok {
			v.Problem = p
		}
	}
	var b bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		c.internal(g, fmt.Errorf("render %s: %w", page, err))
		return
	}
	g.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// fail shows a problem page with status.
func (c *Console) fail(g *gin.Context, status int, msg string) {
	c.render(g, status, "problem.html", http.StatusText(status), map[string]any{"Message": msg, "Status": status})
}

// internal logs err and shows a generic 500: no internal message leaks.
func (c *Console) internal(g *gin.Context, err error) {
	if c.Logger != nil {
		c.Logger.ErrorContext(g.Request.Context(), "console request failed", "error", err.Error(), "request_id", g.GetString("request_id"))
	}
	g.Data(http.StatusInternalServerError, "text/html; charset=utf-8",
		[]byte(`<!DOCTYPE html><title>Error</title><p>The page could not be shown; the error has been logged.</p>`))
}
