package tracing

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerParent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// setenv sets the variables for the rest of the test; the SDK reads
// them from the process's environment.
func setenv(t *testing.T, vars map[string]string) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME"} {
		t.Setenv(k, vars[k])
	}
}

// TestByDefaultNothingIsRecordedButTracesHaveIDs checks the default: no
// OTEL_* variable set gives no exporter and no sampled span, but every
// span still has ids (for the log lines and the webhooks), continuing a
// caller's trace.
func TestByDefaultNothingIsRecordedButTracesHaveIDs(t *testing.T) {
	setenv(t, nil)
	shutdown, err := Setup(context.Background(), "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	ctx, span := Start(FromRequest(context.Background(), http.Header{"Traceparent": {callerParent}}), "x", trace.SpanKindServer)
	defer span.End()
	sc := span.SpanContext()
	if span.IsRecording() || sc.IsSampled() || !sc.IsValid() || sc.TraceID().String() != callerTrace {
		t.Fatalf("default span: recording %v, sampled %v, valid %v, trace %s", span.IsRecording(), sc.IsSampled(), sc.IsValid(), sc.TraceID())
	}
	if p := Parent(ctx); !strings.HasPrefix(p, "00-"+callerTrace+"-") || strings.Contains(p, callerSpan) || !strings.HasSuffix(p, "-00") {
		t.Fatalf("parent kept for the outbox: %q", p)
	}
}

func TestSettingsAreCheckedWithTheVariableNamed(t *testing.T) {
	for _, vars := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
		{"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
	} {
		setenv(t, vars)
		_, err := Setup(context.Background(), "test", io.Discard)
		if err == nil {
			t.Errorf("%v accepted", vars)
			continue
		}
		named := false
		for k := range vars {
			named = named || strings.Contains(err.Error(), k)
		}
		if !named {
			t.Errorf("%v: the error names no variable: %v", vars, err)
		}
	}
	// Disabled wins over an exporter.
	setenv(t, map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
	shutdown, err := Setup(context.Background(), "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	if _, span := Start(context.Background(), "x", trace.SpanKindInternal); span.IsRecording() {
		t.Fatal("OTEL_SDK_DISABLED=true still records")
	}
}

// TestTheConsoleExporterWritesSpans runs the console exporter with the
// sampler from the environment.
func TestTheConsoleExporterWritesSpans(t *testing.T) {
	var out bytes.Buffer
	setenv(t, map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "husky-test"})
	shutdown, err := Setup(context.Background(), "v9", &out)
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(context.Background(), "console.span", trace.SpanKindInternal)
	End(span, io.EOF)
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"console.span"`, `"husky-test"`, `"Description":"failed"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console output lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "EOF") {
		t.Error("an error's text reached the span")
	}
}

// TestBadTraceHeadersStartANewTrace: a header of another version, length
// or characters, zero ids, two traceparents, or an oversized tracestate or
// baggage beside a good one: the caller's trace is not continued.
func TestBadTraceHeadersStartANewTrace(t *testing.T) {
	big := strings.Repeat("a", 10<<10)
	for name, h := range map[string]http.Header{
		"version ff":        {"Traceparent": {"ff-" + callerTrace + "-" + callerSpan + "-01"}},
		"version 01":        {"Traceparent": {"01-" + callerTrace + "-" + callerSpan + "-01"}},
		"too long":          {"Traceparent": {callerParent + "-extra"}},
		"too short":         {"Traceparent": {callerParent[:54]}},
		"upper case":        {"Traceparent": {strings.ToUpper(callerParent)}},
		"not hex":           {"Traceparent": {"00-" + strings.Repeat("z", 32) + "-" + callerSpan + "-01"}},
		"zero trace id":     {"Traceparent": {"00-" + strings.Repeat("0", 32) + "-" + callerSpan + "-01"}},
		"zero span id":      {"Traceparent": {"00-" + callerTrace + "-" + strings.Repeat("0", 16) + "-01"}},
		"two parents":       {"Traceparent": {callerParent, callerParent}},
		"10 KB state":       {"Traceparent": {callerParent}, "Tracestate": {"v=" + big}},
		"10 KB baggage":     {"Traceparent": {callerParent}, "Baggage": {"k=" + big}},
		"10 KB traceparent": {"Traceparent": {big}},
	} {
		if sc := trace.SpanContextFromContext(FromRequest(context.Background(), h)); sc.IsValid() || sc.IsRemote() {
			t.Errorf("%s: continued %s", name, sc.TraceID())
		}
	}
	// A good one with a small tracestate is continued, without the state.
	ctx := FromRequest(context.Background(), http.Header{"Traceparent": {callerParent}, "Tracestate": {"vendor=secret"}})
	if sc := trace.SpanContextFromContext(ctx); sc.TraceID().String() != callerTrace {
		t.Fatalf("good header not continued: %v", sc)
	}
	h := http.Header{}
	Inject(ctx, h)
	if h.Get("Tracestate") != "" || h.Get("Traceparent") != callerParent {
		t.Fatalf("injected %v", h)
	}
}

func TestLogLinesNameTheirTrace(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(LogHandler{Handler: slog.NewJSONHandler(&out, nil)}).With("k", "v").WithGroup("g")
	ctx := FromRequest(context.Background(), http.Header{"Traceparent": {callerParent}})
	log.InfoContext(ctx, "line")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], callerTrace) || !strings.Contains(lines[0], callerSpan) || strings.Contains(lines[1], "trace_id") {
		t.Fatalf("log lines:\n%s", out.String())
	}
}
