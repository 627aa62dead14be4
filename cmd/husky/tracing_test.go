package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// spans records every span the in-process tests make: TestMain installs
// it in place of the default provider (which samples nothing; the tracing
// package's tests check that default, and TestTracesReachACollector runs
// the binary with it).
var spans = tracetest.NewSpanRecorder()

func recordSpans() {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
}

// The trace a reseller's system sends with its order.
const (
	resellerTrace  = "5a1e5ca1ab1e0ddba11c0ffee0ddf00d"
	resellerSpan   = "b0a710ad5eed1e55"
	resellerParent = "00-" + resellerTrace + "-" + resellerSpan + "-01"
)

// TestOneTraceFromResellerToRecipientWithoutPersonalData follows an
// order's life (intake, delivery, a callback, an access export, the
// erasure) in one trace, from the reseller's traceparent to the one each
// recipient receives, and then reads every span recorded in the whole run
// for the order's personal data.
func TestOneTraceFromResellerToRecipientWithoutPersonalData(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	// Every value is distinctive enough to be looked for in any text (a
	// four-digit postal code would turn up inside hex ids by chance).
	person := []string{"Tracy Spanner", "tracy.spanner@example.dk", "+4533998877", "Sporvej 17", "Tracebjerg", "Spanner Optik ApS", "PO-TRACE"}
	body := sampleOrder(t, withRef("PO-TRACE"), func(m map[string]any) {
		m["customer"] = map[string]any{"name": person[0], "email": person[1], "phone": person[2]}
		m["ship_to"] = map[string]any{"line1": person[3], "city": person[4], "organization": person[5], "postal_code": "4321", "country": "DK"}
	})
	traced := func(span string) []string {
		return []string{"traceparent", "00-" + resellerTrace + "-" + span + "-01", "tracestate", "reseller=private", "baggage", "customer=" + person[1]}
	}
	r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(body), traced(resellerSpan)...)
	if r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	e.shared(t, id)

	// Each recipient's webhook continues the reseller's trace, under the
	// attempt's own span, with nothing else of the caller's headers.
	for _, sink := range []*hookSink{e.carrierSink, e.makerSink} {
		req := sinkRequest(t, sink, id, "order.created")
		tp := req.Header.Get("traceparent")
		if !strings.HasPrefix(tp, "00-"+resellerTrace+"-") || strings.Contains(tp, resellerSpan) {
			t.Errorf("webhook traceparent %q does not continue the reseller's trace under its own span", tp)
		}
		if req.Header.Get("tracestate") != "" || req.Header.Get("baggage") != "" {
			t.Errorf("the caller's tracestate or baggage reached a recipient: %v", req.Header)
		}
	}
	// A callback, an access export and the erasure, each in the same
	// trace as their caller sent.
	cb := signedCallback(t, e.srv.URL, e.carrier.ID, e.carrierSecret, "accept-"+id, "order.accepted", map[string]any{"order_id": id})
	if cb.status != 200 {
		t.Fatalf("callback: %d %s", cb.status, cb.body)
	}
	// Cancelled, the order has no bookkeeping to keep: the erasure
	// erases it at once and tells the recipients.
	if r := e.do(t, "POST", "/v1/orders/"+id+"/cancel", e.keyA, nil, traced("0000000000000c01")...); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	open := func(typ, span string) string {
		r := e.do(t, "POST", "/v1/subject-requests", e.privacy, strings.NewReader(`{"type":"`+typ+`","email":"`+person[1]+`"}`), traced(span)...)
		if r.status != 201 {
			t.Fatalf("open request: %d %s", r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	access := open("access", "0000000000000e01")
	if r := e.do(t, "GET", "/v1/subject-requests/"+access+"/export", e.privacy, nil, traced("0000000000000e02")...); r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	// An order of hers from 2019, past its purge date, is erased at once;
	// the new one, cancelled, is kept for bookkeeping and restricted.
	old := importOne(t, e.testEnv, `{"reference":"PO-TRACE-2019","customer":{"name":%q,"email":%q,"phone":%q},`+
		`"ship_to":{"line1":%q,"city":%q,"postal_code":%q,"country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"delivered","closed_at":"2019-03-01T12:00:00Z","disclosed_to":[%q]}`,
		person[0], person[1], person[2], person[3], person[4], "4321", e.resellerA.ID, e.carrier.ID)
	erasure := open("erasure", "0000000000000e03")
	if r := e.do(t, "POST", "/v1/subject-requests/"+erasure+"/erase", e.privacy, nil, traced("0000000000000e04")...); r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	for _, n := range []struct{ id, event string }{{old, "order.erased"}, {id, "order.restricted"}} {
		if tp := sinkRequest(t, e.carrierSink, n.id, n.event).Header.Get("traceparent"); !strings.HasPrefix(tp, "00-"+resellerTrace+"-") {
			t.Errorf("%s is not in the erasure's trace: %q", n.event, tp)
		}
	}

	// The spans: each step is there, in the reseller's trace.
	want := map[string]bool{"POST /v1/orders": false, "webhook order.created": false, "POST /v1/callbacks/:partner_id": false,
		"callback.apply": false, "subjects.open": false, "subjects.export": false, "subjects.erase": false, "webhook order.erased": false,
		"webhook order.restricted": false}
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID().String() != resellerTrace {
			continue
		}
		if _, ok := want[s.Name()]; ok {
			want[s.Name()] = true
		}
		if s.Name() == "POST /v1/orders" && (s.Parent().SpanID().String() != resellerSpan || !s.Parent().IsRemote()) {
			t.Errorf("the intake span's parent is %s, not the reseller's span", s.Parent().SpanID())
		}
	}
	for name, seen := range want {
		if !seen && name != "POST /v1/callbacks/:partner_id" && name != "callback.apply" {
			t.Errorf("no span %q in the reseller's trace", name)
		}
	}
	// The callback came without a traceparent: its spans start a trace of
	// their own.
	named := map[string]bool{}
	for _, s := range spans.Ended() {
		named[s.Name()] = true
		text := spanText(s)
		for _, v := range person {
			if strings.Contains(text, v) || strings.Contains(text, strings.ToLower(v)) {
				t.Errorf("span %q carries %q:\n%s", s.Name(), v, text)
			}
		}
		if strings.Contains(text, "reseller=private") {
			t.Errorf("span %q carries the caller's tracestate", s.Name())
		}
	}
	for _, name := range []string{"POST /v1/callbacks/:partner_id", "callback.apply"} {
		if !named[name] {
			t.Errorf("no span %q", name)
		}
	}
	// The request's log line names its trace.
	found := false
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "request" && l["route"] == "/v1/orders" && l["method"] == "POST" {
			found = found || l["trace_id"] == resellerTrace && len(fmt.Sprint(l["span_id"])) == 16
		}
	}
	if !found {
		t.Error("no request log line carries the reseller's trace id and a span id")
	}
}

// TestBadTraceHeadersStartAFreshTrace: each malformed trace context is
// taken as none; the order is accepted, a new trace begins, and nothing
// of the header reaches the recipient or the log.
func TestBadTraceHeadersStartAFreshTrace(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	bad := map[string][]string{
		"version ff":    {"traceparent", "ff-" + resellerTrace + "-" + resellerSpan + "-01"},
		"wrong length":  {"traceparent", resellerParent + "0"},
		"characters":    {"traceparent", "00-" + strings.Repeat("g", 32) + "-" + resellerSpan + "-01"},
		"zero trace id": {"traceparent", "00-" + strings.Repeat("0", 32) + "-" + resellerSpan + "-01"},
		"10 KB state":   {"traceparent", resellerParent, "tracestate", "r=" + strings.Repeat("x", 10<<10)},
		"10 KB baggage": {"traceparent", resellerParent, "baggage", "r=" + strings.Repeat("x", 10<<10)},
	}
	i := 0
	for name, headers := range bad {
		i++
		r := e.do(t, "POST", "/v1/orders", e.keyA, strings.NewReader(sampleOrder(t, withRef(fmt.Sprintf("PO-BADTRACE-%d", i)))), headers...)
		if r.status != 201 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		e.shared(t, id)
		tp := sinkRequest(t, e.carrierSink, id, "order.created").Header.Get("traceparent")
		if len(tp) != 55 || strings.Contains(tp, resellerTrace) || strings.Contains(tp, strings.Repeat("0", 32)) {
			t.Errorf("%s: the webhook's traceparent is %q", name, tp)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, resellerTrace) || strings.Contains(logs, "xxxxxxxx") || strings.Contains(logs, "gggg") {
		t.Error("a bad trace header reached the log")
	}
}

// sinkRequest is the request that brought the sink event about order id.
func sinkRequest(t *testing.T, s *hookSink, id, event string) *http.Request {
	t.Helper()
	waitUntil(t, event+" at the sink", func() bool { return s.bodyOf(id, event) != nil })
	for i := range s.count() {
		req, b := s.at(i)
		if strings.Contains(string(b), id) && strings.Contains(string(b), `"type":"`+event+`"`) {
			return req
		}
	}
	t.Fatalf("no %s for %s", event, id)
	return nil
}

// spanText is everything a span carries as text: name, attributes,
// events, links' attributes, status.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	kv := func(attrs []attribute.KeyValue) {
		for _, a := range attrs {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
		}
	}
	b.WriteString(s.Name())
	kv(s.Attributes())
	for _, ev := range s.Events() {
		b.WriteString(" event " + ev.Name)
		kv(ev.Attributes)
	}
	for _, l := range s.Links() {
		kv(l.Attributes)
	}
	b.WriteString(" status " + s.Status().Description)
	return b.String()
}
