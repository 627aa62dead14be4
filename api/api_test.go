package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/base"
)

// order is a request body shaped like the API's.
type order struct {
	Reference string `json:"reference"`
	Customer  struct {
		Email string `json:"email"`
	} `json:"customer"`
	Items []struct {
		Quantity int `json:"quantity"`
	} `json:"items"`
}

// newServer serves, over real HTTP, handlers built the way the service's
// are: a JSON body read and decoded strictly, a paged list, an internal
// failure, and a rate-limited route.
func newServer(t *testing.T, limiter *RateLimiter) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.POST("/orders", func(c *gin.Context) {
		body, err := ReadJSONBody(c)
		if err != nil {
			Abort(c, err)
			return
		}
		var o order
		if err := Decode(body, &o); err != nil {
			Abort(c, err)
			return
		}
		c.JSON(http.StatusCreated, o)
	})
	r.GET("/orders", func(c *gin.Context) {
		limit, after, err := PageParams(c)
		if err != nil {
			Abort(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"limit": limit, "after": after})
	})
	r.GET("/fails", func(c *gin.Context) {
		Abort(c, errors.New("connect to postgres://husky:s3cret@db: refused"))
	})
	r.GET("/limited", limiter.Middleware(func(*gin.Context) string { return "key_1" }), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// problem sends a request and returns its status and problem document.
func problem(t *testing.T, req *http.Request) (*http.Response, Details) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d Details
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != ContentType {
			t.Errorf("%s %s: Content-Type %q, want %q", req.Method, req.URL.Path, ct, ContentType)
		}
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatalf("not a problem document: %s", body)
		}
	}
	return res, d
}

func post(t *testing.T, srv *httptest.Server, contentType, body string) (*http.Response, Details) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return problem(t, req)
}

func TestBodiesAreRefusedWithAProblemNamingEachBadField(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	for _, tc := range []struct {
		name, ct, body string
		status         int
		code           string
		pointers       []string
	}{
		{"not_json", "text/plain", `{}`, http.StatusUnsupportedMediaType, "unsupported_media_type", nil},
		{"not_utf8", "application/json; charset=latin1", `{}`, http.StatusUnsupportedMediaType, "unsupported_media_type", nil},
		{"too_large", "application/json", `{"reference":"` + strings.Repeat("x", MaxBody) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large", nil},
		{"malformed", "application/json", `{"reference":`, http.StatusBadRequest, "malformed_json", nil},
		{"every_field_at_once", "application/json",
			`{"reference":1,"Reference":"x","customer":{"email":"a@b.dk","emial":"x"},"items":[{"quantity":"two"}]}`,
			http.StatusUnprocessableEntity, "validation", []string{"/reference", "/Reference", "/customer/emial", "/items/0/quantity"}},
		{"duplicate_key", "application/json", `{"reference":"a","reference":"b"}`, http.StatusUnprocessableEntity, "validation", []string{"/reference"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, d := post(t, srv, tc.ct, tc.body)
			if res.StatusCode != tc.status || d.Type != TypeBase+tc.code {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, d.Type, tc.status, tc.code)
			}
			got := map[string]bool{}
			for _, f := range d.Errors {
				got[f.Pointer] = true
			}
			for _, p := range tc.pointers {
				if !got[p] {
					t.Errorf("no error points at %s: %+v", p, d.Errors)
				}
			}
			if len(d.Errors) != len(tc.pointers) {
				t.Errorf("%d field errors, want %d: %+v", len(d.Errors), len(tc.pointers), d.Errors)
			}
		})
	}
	// A problem never repeats the value it refuses: it may be personal data.
	_, d := post(t, srv, "application/json", `{"reference":"x","customer":{"email":["jane@example.dk"]}}`)
	if b, _ := json.Marshal(d); strings.Contains(string(b), "jane") {
		t.Errorf("the problem repeats the value: %s", b)
	}
	if res, _ := post(t, srv, "application/json", `{"reference":"PO-1","customer":{"email":"a@b.dk"},"items":[{"quantity":2}]}`); res.StatusCode != http.StatusCreated {
		t.Errorf("a good body: %d", res.StatusCode)
	}
}

func TestAnInternalErrorTellsTheClientNothingOfItsCause(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/fails", nil)
	res, d := problem(t, req)
	if res.StatusCode != http.StatusInternalServerError || d.Type != TypeBase+"internal" {
		t.Fatalf("%d %s", res.StatusCode, d.Type)
	}
	if b, _ := json.Marshal(d); strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "postgres") {
		t.Errorf("the cause reached the client: %s", b)
	}
}

func TestPageParametersAreCheckedTogether(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders?limit=0&cursor=***", nil)
	res, d := problem(t, req)
	if res.StatusCode != http.StatusUnprocessableEntity || len(d.Errors) != 2 ||
		d.Errors[0].Parameter != "cursor" || d.Errors[1].Parameter != "limit" {
		t.Fatalf("%d %+v", res.StatusCode, d.Errors)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/orders?limit=5&cursor="+Cursor("ord_1"), nil)
	if res, _ := problem(t, req); res.StatusCode != http.StatusOK {
		t.Errorf("good parameters: %d", res.StatusCode)
	}
}

func TestRateLimitAnswersWithItsHeadersAndRetryAfter(t *testing.T) {
	t.Parallel()
	clock := &base.FakeClock{}
	clock.Set(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	l := NewRateLimiter(2)
	l.Clock = clock.Now
	srv := newServer(t, l)
	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/limited", nil)
		res, _ := problem(t, req)
		return res
	}
	// A burst of twice the rate, then 429 until time refills the bucket.
	for i := range 4 {
		if res := get(); res.StatusCode != http.StatusNoContent || res.Header.Get("RateLimit-Limit") != "4" {
			t.Fatalf("request %d of the burst: %d, limit %q", i+1, res.StatusCode, res.Header.Get("RateLimit-Limit"))
		}
	}
	res := get()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" || res.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("past the burst: %d, Retry-After %q, remaining %q", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("RateLimit-Remaining"))
	}
	clock.Advance(time.Second)
	if res := get(); res.StatusCode != http.StatusNoContent {
		t.Errorf("a second later: %d", res.StatusCode)
	}
}
