// Package tracing is the service's OpenTelemetry tracing: its set-up from
// the standard OTEL_* variables (setup.go), the spans the other packages
// start, and the W3C trace context that travels with an order from the
// reseller's request, through the outbox, to the recipient's webhook.
//
// No span carries personal data: a span is named after a route or an
// operation, and its attributes are the service's own ids, counts,
// statuses and event names (the rule docs/operations.md states, and the
// tests check by reading every span of an order's life).
package tracing

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// scope names the service's instrumentation.
const scope = "github.com/milestone/husky"

// Start begins a span named name under the one in ctx. It is taken from
// the global provider at each call, so that a test's recorder (or the
// provider Setup installs) sees every span however early a package asked.
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return otel.GetTracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// End ends span, marked as failed when err is not nil. The error's text
// is not kept, only that it failed: an error may quote what it refused.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "failed")
	}
	span.End()
}

// Parent is the traceparent header of the span in ctx, to be kept with
// work that continues later in the same trace (an outbox row); "" when
// ctx holds no valid span. It never carries tracestate or baggage.
func Parent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + (sc.TraceFlags() & trace.FlagsSampled).String()
}

// traceParentHeader is the W3C header's name.
const traceParentHeader = "traceparent"

// Continue returns ctx under the remote span of the traceparent h (a
// request's header, or one kept with an outbox row). Only version 00 in
// its exact 55 characters is continued, lower-case hex with ids that are
// not all zero; anything else leaves ctx as it is, so that the next span
// starts a new trace. (It parses h itself rather than through the
// propagator: every delivery attempt does this.)
func Continue(ctx context.Context, h string) context.Context {
	if len(h) != 55 || h[:3] != "00-" || h[35] != '-' || h[52] != '-' || strings.ToLower(h) != h {
		return ctx
	}
	tid, err := trace.TraceIDFromHex(h[3:35])
	if err != nil {
		return ctx
	}
	sid, err := trace.SpanIDFromHex(h[36:52])
	if err != nil {
		return ctx
	}
	flags, err := hex.DecodeString(h[53:55])
	if err != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true}))
}

// Limits past which a caller's trace headers are taken as noise, and the
// request starts a new trace: W3C's recommended tracestate size, and its
// baggage limit. Neither header is read beyond its size.
const (
	maxTraceState = 512
	maxBaggage    = 8192
)

// FromRequest returns ctx under the caller's span when the request's
// headers hold one valid traceparent and no oversized tracestate or
// baggage; otherwise ctx as it is, so the request starts a new trace. The
// caller's tracestate and baggage are never kept.
func FromRequest(ctx context.Context, h http.Header) context.Context {
	parents := h.Values(traceParentHeader)
	if len(parents) != 1 || headerSize(h.Values("Tracestate")) > maxTraceState || headerSize(h.Values("Baggage")) > maxBaggage {
		return ctx
	}
	return Continue(ctx, parents[0])
}

func headerSize(values []string) int {
	n := 0
	for _, v := range values {
		n += len(v)
	}
	return n
}

// Inject writes the span in ctx to an outgoing request's headers: the
// traceparent only.
func Inject(ctx context.Context, h http.Header) {
	if p := Parent(ctx); p != "" {
		h.Set(traceParentHeader, p)
	}
}

// LogHandler adds trace_id and span_id to every log record whose context
// holds a span, so that a log line and its trace can be found together.
type LogHandler struct{ slog.Handler }

// Handle adds the ids and passes the record on.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }
