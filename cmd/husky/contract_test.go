package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/milestone/husky/tracing"
)

// TestMain holds every JSON response the tests receive against the API's
// contract, openapi.json: every client whose transport is the default one
// (http.Get, http.DefaultClient, a client built without a transport) goes
// through it, so the in-process tests, the end-to-end tests of the binary
// and both engines' halves are all checked. A response that breaks the
// contract fails the request that received it and, in case a test let
// that error pass, the whole run.
func TestMain(m *testing.M) {
	raw, err := os.ReadFile("../../app/openapi.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := newContract(raw, http.DefaultTransport)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi.json:", err)
		os.Exit(2)
	}
	http.DefaultTransport = c
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		recordSpans()
	} else if _, err := tracing.Setup(context.Background(), "bench", io.Discard); err != nil {
		// Benchmarks measure the service as it runs by default: spans
		// made, none sampled, nothing recorded.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "openapi.json: %d JSON responses checked\n", c.count())
	}
	if broken := c.broken(); len(broken) > 0 {
		fmt.Fprintf(os.Stderr, "%d responses broke openapi.json:\n%s\n", len(broken), strings.Join(broken, "\n"))
		code = 1
	}
	os.Exit(code)
}

// contract is a transport that validates the service's JSON responses.
type contract struct {
	next   http.RoundTripper
	router routers.Router

	mu       sync.Mutex
	failures []string
	checked  int
}

func newContract(raw []byte, next http.RoundTripper) (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// The tests' servers listen on any port: routes match by path alone.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{next: next, router: router}, nil
}

// RoundTrip sends req and checks the answer when it is JSON from a route
// the document describes. Other answers (pages, a partner's receiver, a
// route that does not exist) pass as they are.
func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(req)
	if err != nil || !isJSON(res.Header.Get("Content-Type")) {
		return res, err
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	plain := body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if plain, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(plain)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		msg := fmt.Sprintf("%s %s → %d: %v", req.Method, route.Path, res.StatusCode, err)
		c.mu.Lock()
		c.failures = append(c.failures, msg)
		c.mu.Unlock()
		return nil, fmt.Errorf("the response breaks openapi.json: %s", msg)
	}
	return res, nil
}

// count is how many responses were checked.
func (c *contract) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// broken lists the responses that broke the contract.
func (c *contract) broken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.failures...)
}

func isJSON(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && (media == "application/json" || strings.HasSuffix(media, "+json"))
}

// TestTheContractCheckCatchesAMismatch proves the check can fail: the
// mismatch it was built against (issue 27: a subject request's
// orders[].status described as the health check's object) is put back
// into a copy of the document, and the DPO's main call breaks it.
func TestTheContractCheckCatchesAMismatch(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	raw, err := os.ReadFile("../../app/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	schemas["SubjectOrder"].(map[string]any)["properties"].(map[string]any)["status"] = map[string]any{"$ref": "#/components/schemas/Status"}
	bent, _ := json.Marshal(doc)
	c, err := newContract(bent, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(sampleOrder(t))); r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/subject-requests", strings.NewReader(`{"type":"access","email":"jane@example.dk"}`))
	req.Header.Set("Authorization", "Bearer "+e.privacy)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Transport: c}).Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("a subject request's answer passed a document that describes its orders' status as an object (%d)", res.StatusCode)
	}
	if !strings.Contains(err.Error(), "/v1/subject-requests") || len(c.broken()) != 1 {
		t.Fatalf("the failure does not name the call: %v %v", err, c.broken())
	}
	// The real document holds the same answer.
	if r := e.do(t, "POST", "/v1/subject-requests", e.privacy, strings.NewReader(`{"type":"access","email":"jane@example.dk"}`)); r.status != 201 {
		t.Fatalf("open request: %d %s", r.status, r.body)
	}
}
