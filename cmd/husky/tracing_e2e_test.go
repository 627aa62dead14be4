package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is a loopback OTLP/HTTP receiver that keeps what it is
// sent, raw and decoded.
type otlpCollector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	raw   []byte
	spans map[string][]string // span names by trace id (hex)
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{spans: map[string][]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req collector.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.raw = append(c.raw, b...)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					id := hexID(s.TraceId)
					c.spans[id] = append(c.spans[id], s.Name)
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func (c *otlpCollector) received() ([]byte, map[string][]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw), c.spans
}

// TestTracesReachACollector runs the binary twice against a loopback
// collector: with the standard variables naming it, the reseller's trace
// arrives there from intake to delivery, with no personal data in the
// exported bytes; with no OTEL_TRACES_EXPORTER (the default), nothing is
// sent, yet the log lines and the webhook still carry trace ids.
func TestTracesReachACollector(t *testing.T) {
	t.Parallel()
	for _, exporting := range []bool{true, false} {
		db := filepath.Join(t.TempDir(), "husky.db")
		col, sink := newOTLPCollector(t), newHookSink(t)
		env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true", "OTEL_EXPORTER_OTLP_ENDPOINT="+col.srv.URL)
		husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", sink.srv.URL)
		rp := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
		key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", rp["id"].(string))["api_key"].(string)
		if exporting {
			env = append(env, "OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_SERVICE_NAME=husky-e2e",
				"OTEL_BSP_SCHEDULE_DELAY=100")
		}
		s := startServer(t, env)
		req, _ := http.NewRequest("POST", s.url+"/v1/orders", strings.NewReader(sampleOrder(t)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", resellerParent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("submit: %d", res.StatusCode)
		}
		waitUntil(t, "the webhook", func() bool { return sink.count() == 1 })
		hook, _ := sink.at(0)
		if tp := hook.Header.Get("traceparent"); !strings.HasPrefix(tp, "00-"+resellerTrace+"-") {
			t.Errorf("exporting %v: webhook traceparent %q", exporting, tp)
		}
		s.stop(t) // flushes the last spans
		if !strings.Contains(s.stderr.String(), `"trace_id":"`+resellerTrace+`"`) {
			t.Errorf("exporting %v: no log line names the reseller's trace:\n%s", exporting, s.stderr.String())
		}
		raw, spans := col.received()
		if !exporting {
			if len(raw) > 0 {
				t.Errorf("with no exporter set, %d bytes reached the collector", len(raw))
			}
			continue
		}
		names := strings.Join(spans[resellerTrace], ",")
		for _, want := range []string{"POST /v1/orders", "webhook order.created"} {
			if !strings.Contains(names, want) {
				t.Errorf("the collector's trace lacks %q: %s", want, names)
			}
		}
		if !bytes.Contains(raw, []byte("husky-e2e")) {
			t.Error("OTEL_SERVICE_NAME did not name the service")
		}
		for _, v := range []string{"Jane Doe", "jane@example.dk", "+4533123456", "4533123456", "PO-2026-0042"} {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("the exported spans hold %q", v)
			}
		}
	}
}
