package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/partners"
)

func metricsBody(t *testing.T, e *testEnv) string {
	t.Helper()
	r := e.do(t, "GET", "/metrics", "", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d", r.status)
	}
	return string(r.body)
}

func TestUnknownMethodsDoNotGrowMetricsOrLogs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	before := len(metricsBody(t, e))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	client := &http.Client{}
	for i := range 3000 {
		m := make([]byte, 8)
		for j := range m {
			m[j] = letters[rand.IntN(len(letters))]
		}
		req, _ := http.NewRequest(string(m), e.srv.URL+"/v1/orders", nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// One 50 KB method, written nowhere whole.
	huge := strings.Repeat("X", 50<<10)
	req, _ := http.NewRequest(huge, e.srv.URL+"/v1/orders", nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || bytes.Contains(body, []byte("XXXX")) {
		t.Errorf("405 for an invented method: %d, echoes it: %v", res.StatusCode, bytes.Contains(body, []byte("XXXX")))
	}
	after := metricsBody(t, e)
	series := strings.Count(after, "husky_http_requests_total{")
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("/metrics %d -> %d bytes, %d request series, heap %+d KB after 3,001 invented methods",
		before, len(after), series, (int64(ms.HeapAlloc)-int64(heapBefore))/1024)
	if series > 10 || len(after)-before > 4096 {
		t.Errorf("invented methods grew /metrics by %d bytes to %d series", len(after)-before, series)
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if len(line) > 2048 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
	if !strings.Contains(after, `method="other"`) {
		t.Error("invented methods are not counted as other")
	}
}

func TestCallbackAnswersCannotProbePartnerIDs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	rp, secret, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Carrier", EndpointURL: "http://127.0.0.1:9/"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := partners.NewSecret()
	body := []byte(`{"type":"order.accepted","data":{"order_id":"ord_x"}}`)
	cases := map[string]func(h http.Header){
		"missing": func(h http.Header) {},
		"stale": func(h http.Header) {
			partners.SetHeaders(h, []string{secret}, "cb-1", time.Now().Add(-10*time.Minute), body)
		},
		"wrong": func(h http.Header) { partners.SetHeaders(h, []string{other}, "cb-1", time.Now(), body) },
	}
	var answers []string
	for name, sign := range cases {
		for _, id := range []string{"ptn_nosuchpartner", e.resellerA.ID, rp.ID} {
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/callbacks/"+id, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sign(req.Header)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers = append(answers, fmt.Sprintf("%d %s %s %s", res.StatusCode, res.Header.Get("WWW-Authenticate"), res.Header.Get("Content-Type"), b))
			if res.StatusCode != 401 {
				t.Errorf("%s signature for %s: %d", name, id, res.StatusCode)
			}
		}
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("answers differ:\n%s\n%s", answers[0], a)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "outside the 5 minute tolerance") || !strings.Contains(logs, "no webhook-signature matches") {
		t.Errorf("the specific reasons are not logged:\n%s", logs)
	}
}

func TestDisablingAResellerStopsItsKeysAtOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	if r := e.do(t, "GET", "/v1/orders", e.keyA, nil); r.status != 200 {
		t.Fatalf("enabled reseller: %d", r.status)
	}
	if err := e.app.Partners.SetEnabled(ctx, "test", e.resellerA.ID, false, "operator"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(sampleOrder(t))); r.status != 401 {
		t.Errorf("a disabled reseller submitted an order: %d", r.status)
	}
	if r := e.do(t, "GET", "/v1/orders", e.keyB, nil); r.status != 200 {
		t.Errorf("another reseller was stopped too: %d", r.status)
	}
	if err := e.app.Partners.SetEnabled(ctx, "test", e.resellerA.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "GET", "/v1/orders", e.keyA, nil); r.status != 200 {
		t.Errorf("re-enabled reseller: %d", r.status)
	}
}

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/catalog", nil)
		req.Header.Set("Authorization", scheme+" "+e.keyA)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", scheme, res.StatusCode)
		}
	}
	for _, h := range []string{"Basic " + e.keyA, e.keyA, "Bearer", "Bearer  "} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/catalog", nil)
		req.Header.Set("Authorization", h)
		res, _ := http.DefaultClient.Do(req)
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("%q: %d, want 401", h, res.StatusCode)
		}
	}
}

func TestOneStrictDecoderForEveryJSONEndpoint(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	problem := func(r response) (ptrs []string, omitted int) {
		var p struct {
			Errors []struct {
				Pointer string `json:"pointer"`
				Code    string `json:"code"`
			} `json:"errors"`
			Omitted int `json:"errors_omitted"`
		}
		json.Unmarshal(r.body, &p)
		for _, fe := range p.Errors {
			ptrs = append(ptrs, fe.Pointer+" "+fe.Code)
		}
		return ptrs, p.Omitted
	}
	// Field names match exactly.
	r := e.do(t, "PUT", "/v1/webhook-endpoint", e.keyA, strings.NewReader(`{"URL":"https://hooks.example.com/x"}`))
	if ptrs, _ := problem(r); r.status != 422 || !strings.Contains(strings.Join(ptrs, ","), "/URL unknown_field") {
		t.Errorf("URL for url: %d %s", r.status, r.body)
	}
	// A key given twice is named.
	dup := strings.Replace(sampleOrder(t), `"reference":`, `"reference":"PO-A","reference":`, 1)
	r = e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(dup))
	if ptrs, _ := problem(r); r.status != 422 || !strings.Contains(strings.Join(ptrs, ","), "/reference duplicate_field") {
		t.Errorf("duplicate key: %d %s", r.status, r.body)
	}
	r = e.do(t, "POST", "/v1/orders/ord_x/hold", e.admin, strings.NewReader(`{"reason":"a","reason":"b"}`))
	if ptrs, _ := problem(r); r.status != 422 || !strings.Contains(strings.Join(ptrs, ","), "/reason duplicate_field") {
		t.Errorf("duplicate key in hold: %d %s", r.status, r.body)
	}
	// 50,000 unknown fields: a bounded answer.
	var b strings.Builder
	b.WriteString(`{"url":"https://hooks.example.com/x"`)
	for i := range 50000 {
		fmt.Fprintf(&b, `,"f%d":1`, i)
	}
	b.WriteString("}")
	r = e.do(t, "PUT", "/v1/webhook-endpoint", e.keyA, strings.NewReader(b.String()))
	ptrs, omitted := problem(r)
	if r.status != 422 || len(ptrs) != 100 || omitted != 49900 || len(r.body) > 16<<10 {
		t.Errorf("50,000 unknown fields: %d, %d listed, %d omitted, %d bytes", r.status, len(ptrs), omitted, len(r.body))
	}
}

func TestTextFieldsRefuseLoneSurrogatesAndInvisibleControls(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for name, edit := range map[string]func(m map[string]any){
		"lone_surrogate": func(m map[string]any) { m["customer"].(map[string]any)["name"] = "LONE" },
		"rtl_override":   func(m map[string]any) { m["ship_to"].(map[string]any)["city"] = "Br\u202eyb\u202cndby" },
		"zero_width":     func(m map[string]any) { m["reference"] = "PO-\u200b1" },
		"byte_order":     func(m map[string]any) { m["notes"] = "\ufeffnote" },
		"isolate":        func(m map[string]any) { m["ship_to"].(map[string]any)["line1"] = "Vej \u2066 1" },
	} {
		body := sampleOrder(t, edit)
		body = strings.Replace(body, "LONE", `J\ud800ne`, 1)
		r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(body))
		if r.status != 422 || !strings.Contains(string(r.body), "invalid_characters") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if _, _, err := e.app.Partners.Add(context.Background(), "test", partners.NewPartner{Kind: partners.KindReseller, Name: "Shop\u202e"}); err == nil {
		t.Error("a partner name with a bidirectional override was accepted")
	}
}

func TestPprofListensOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{"127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.5:6060": false, "[::]:6060": false, "example.com:6060": false} {
		_, err := configWith(map[string]string{"HUSKY_DB": t.TempDir() + "/husky.db", "HUSKY_PPROF_ADDR": addr})
		if (err == nil) != ok {
			t.Errorf("HUSKY_PPROF_ADDR=%s: err %v", addr, err)
		}
	}
}
