package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestAuthenticationAndRoles(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	revokedKey := func() string {
		_, key := e.addReseller(t, "Revoked")
		p, err := e.app.Partners.Authenticate(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Partners.RevokeKey(t.Context(), "test", p.KeyID); err != nil {
			t.Fatal(err)
		}
		return key
	}()
	tests := []struct {
		name, key string
		want      int
	}{
		{"missing_key_is_401", "", http.StatusUnauthorized},
		{"malformed_key_is_401", "not-a-key", http.StatusUnauthorized},
		{"unknown_key_is_401", "husky_reseller_" + strings.Repeat("a", 52), http.StatusUnauthorized},
		{"revoked_key_is_401", revokedKey, http.StatusUnauthorized},
		{"finance_key_is_403", e.finance, http.StatusForbidden},
		{"admin_key_is_403", e.admin, http.StatusForbidden},
		{"reseller_key_is_200", e.keyA, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", "/v1/orders", tt.key, nil)
			if r.status != tt.want {
				t.Errorf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if r.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestSubmitReadListCancel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	o := e.submit(t, e.keyA, sampleOrder(t))
	id := o["id"].(string)
	if o["status"] != "received" {
		t.Errorf("status %v", o["status"])
	}
	r := e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil)
	if r.status != 200 || r.json(t)["reference"] != "PO-2026-0042" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/v1/orders?limit=10", e.keyA, nil)
	if r.status != 200 || len(r.json(t)["data"].([]any)) != 1 {
		t.Errorf("list: %s", r.body)
	}
	r = e.do(t, "POST", "/v1/orders/"+id+"/cancel", e.keyA, nil)
	if r.status != 200 || r.json(t)["status"] != "cancelled" {
		t.Errorf("cancel: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/v1/orders?status=cancelled", e.keyA, nil)
	if len(r.json(t)["data"].([]any)) != 1 {
		t.Errorf("status filter: %s", r.body)
	}
	r = e.do(t, "GET", "/v1/catalog", e.keyA, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "HE700R-32TB") {
		t.Errorf("catalog: %s", r.body)
	}
}

func TestPaginationWalksEveryOrderOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var want []string
	for i := range 7 {
		want = append(want, e.submit(t, e.keyA, sampleOrder(t, withRef(fmt.Sprintf("PO-%d", i))))["id"].(string))
	}
	slices.Reverse(want)
	var got []string
	path := "/v1/orders?limit=3"
	for {
		page := e.do(t, "GET", path, e.keyA, nil).json(t)
		for _, o := range page["data"].([]any) {
			got = append(got, o.(map[string]any)["id"].(string))
		}
		if page["has_more"] != true {
			break
		}
		path = "/v1/orders?limit=3&cursor=" + page["next_cursor"].(string)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=%25%25", "status=lost"} {
		if r := e.do(t, "GET", "/v1/orders?"+q, e.keyA, nil); r.status != http.StatusUnprocessableEntity {
			t.Errorf("?%s: %d", q, r.status)
		}
	}
}

func TestResellersSeeOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := e.submit(t, e.keyA, sampleOrder(t))["id"].(string)
	for _, rq := range []struct{ method, path string }{
		{"GET", "/v1/orders/" + id},
		{"POST", "/v1/orders/" + id + "/cancel"},
	} {
		r := e.do(t, rq.method, rq.path, e.keyB, nil)
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s as another reseller: %d, want 404", rq.method, rq.path, r.status)
		}
		const none = "ord_00000000000000000000000000000000"
		missing := e.do(t, rq.method, strings.Replace(rq.path, id, none, 1), e.keyB, nil)
		if !bytes.Equal(bytes.ReplaceAll(missing.body, []byte(none), []byte(id)), r.body) {
			t.Errorf("another reseller's order answers differently from a missing one:\n%s\n%s", r.body, missing.body)
		}
	}
	if list := e.do(t, "GET", "/v1/orders", e.keyB, nil).json(t); len(list["data"].([]any)) != 0 {
		t.Errorf("reseller B lists A's orders: %v", list)
	}
	if got := e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil).json(t); got["status"] != "received" {
		t.Errorf("B's cancel changed A's order: %v", got["status"])
	}
}

func TestBadInputGetsProblemAndStoresNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	big := `{"reference":"x","notes":"` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name    string
		body    string
		headers []string
		want    int
	}{
		{"malformed_json_is_400", `{"reference":`, nil, http.StatusBadRequest},
		{"unknown_field_is_422", sampleOrder(t, func(m map[string]any) { m["coupon"] = "X" }), nil, http.StatusUnprocessableEntity},
		{"wrong_content_type_is_415", sampleOrder(t), []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"form_content_type_is_415", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"body_over_1mib_is_413", big, nil, http.StatusRequestEntityTooLarge},
		{"non_utf8_is_400", "{\"reference\":\"\xc3\x28\"}", nil, http.StatusBadRequest},
		{"invalid_fields_are_422", sampleOrder(t, func(m map[string]any) { m["items"] = []any{} }), nil, http.StatusUnprocessableEntity},
		{"bad_idempotency_key_is_400", sampleOrder(t), []string{"Idempotency-Key", strings.Repeat("k", 300)}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(tt.body), tt.headers...)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.want, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			p := r.json(t)
			for _, k := range []string{"type", "title", "status", "detail"} {
				if _, ok := p[k]; !ok {
					t.Errorf("problem lacks %q: %s", k, r.body)
				}
			}
		})
	}
	var n int
	if err := e.app.DB.Reader.Get(&n, "SELECT COUNT(*) FROM orders"); err != nil || n != 0 {
		t.Errorf("%d orders stored from bad input (%v)", n, err)
	}
	// The server still answers.
	e.submit(t, e.keyA, sampleOrder(t))
}

func TestIdempotentRetryOverHTTP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	body := sampleOrder(t)
	first := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(body), "Idempotency-Key", "retry-1")
	again := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(body), "Idempotency-Key", "retry-1")
	if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) {
		t.Fatalf("retry differs:\n%d %s\n%d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("replay not marked")
	}
	other := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(sampleOrder(t, withRef("PO-other"))), "Idempotency-Key", "retry-1")
	if other.status != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: %d", other.status)
	}
	dup := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(body))
	if dup.status != http.StatusConflict || dup.header.Get("Location") != first.header.Get("Location") {
		t.Errorf("duplicate reference: %d %s", dup.status, dup.header.Get("Location"))
	}
}

func TestRequestIDAndLogsWithoutPersonalData(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	personal := []string{"Zebulon Quackenbush", "zebulon.q@unusual-mail.example", "+4522334455", "Quackvej 77", "Quackby", "Quack Holdings ApS", "secret note 8812"}
	body := sampleOrder(t, func(m map[string]any) {
		m["customer"] = map[string]any{"name": personal[0], "email": personal[1], "phone": personal[2]}
		st := m["ship_to"].(map[string]any)
		st["line1"], st["city"], st["organization"] = personal[3], personal[4], personal[5]
		m["notes"] = personal[6]
	})
	o := e.submit(t, e.keyA, body)
	id := o["id"].(string)
	e.do(t, "GET", "/v1/orders/"+id, e.keyA, nil)
	// Invalid input and personal data in the URL must not be logged either.
	e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(strings.Replace(body, personal[1], personal[1]+"@@", 1)))
	e.do(t, "GET", "/v1/orders/"+personal[1], e.keyA, nil)
	r := e.do(t, "GET", "/healthz", "", nil, "Request-Id", "client-chosen-id")
	if r.header.Get("Request-Id") != "client-chosen-id" {
		t.Errorf("Request-Id not echoed: %q", r.header.Get("Request-Id"))
	}
	// A request id that is not a short token of safe characters (here an
	// email address) is replaced, never logged.
	for _, bad := range []string{"jane.rid@example.dk", strings.Repeat("a", 65), "a b", "x/../y"} {
		if r := e.do(t, "GET", "/healthz", "", nil, "Request-Id", bad); !strings.HasPrefix(r.header.Get("Request-Id"), "req_") {
			t.Errorf("Request-Id %q kept as %q", bad, r.header.Get("Request-Id"))
		}
	}
	if r := e.do(t, "GET", "/readyz", "", nil); r.status != 200 || r.header.Get("Request-Id") == "" {
		t.Errorf("readyz: %d, request id %q", r.status, r.header.Get("Request-Id"))
	}
	logs := e.logs.String()
	if strings.Contains(logs, "jane.rid@example.dk") {
		t.Error("a Request-Id holding an email address reached the log")
	}
	if strings.Count(logs, `"msg":"request"`) < 5 {
		t.Fatalf("expected one log line per request, got:\n%s", logs)
	}
	for _, p := range personal {
		if strings.Contains(logs, p) {
			t.Errorf("log output contains personal value %q", p)
		}
	}
	if !strings.Contains(logs, id) {
		t.Error("log lines do not name the order id")
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	r := e.do(t, "GET", "/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Info    map[string]any                        `json:"info"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Errorf("not an OpenAPI 3.1 document: %q %v", doc.OpenAPI, doc.Info)
	}
	routes := e.app.Handler().(interface{ Routes() gin.RoutesInfo }).Routes()
	served := map[string]bool{}
	for _, rt := range routes {
		if strings.HasPrefix(rt.Path, "/console") {
			continue // HTML pages for people, not the JSON API (docs/console.md)
		}
		path := ginPathToOpenAPI(rt.Path)
		key := strings.ToLower(rt.Method) + " " + path
		served[key] = true
		op, ok := doc.Paths[path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, path)
			continue
		}
		var o struct {
			Responses map[string]any `json:"responses"`
		}
		if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
			t.Errorf("%s %s has no responses", rt.Method, path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !served[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which the router does not serve", method, path)
			}
		}
	}
	checkRefs(t, r.body)
}

// ginPathToOpenAPI turns /v1/orders/:id into /v1/orders/{id}.
func ginPathToOpenAPI(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// checkRefs fails on any $ref that does not resolve inside the document.
func checkRefs(t *testing.T, doc []byte) {
	t.Helper()
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				var cur any = root
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(root)
}

// Clients that accept gzip get it; others get the plain body.
func TestResponsesAreCompressedForClientsThatAcceptIt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/openapi.json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	zr, err := gzip.NewReader(res.Body)
	if res.Header.Get("Content-Encoding") != "gzip" || err != nil {
		t.Fatalf("with Accept-Encoding: gzip: %q %v", res.Header.Get("Content-Encoding"), err)
	}
	unzipped, _ := io.ReadAll(zr)
	plain := e.do(t, "GET", "/openapi.json", "", nil, "Accept-Encoding", "identity")
	if plain.header.Get("Content-Encoding") != "" || !bytes.Equal(unzipped, plain.body) || !bytes.HasPrefix(plain.body, []byte("{")) {
		t.Errorf("the gzipped body differs from the plain one (%d and %d bytes)", len(unzipped), len(plain.body))
	}
}
