package tracing

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup installs the process's tracer provider as the standard OTEL_*
// variables describe, and returns the function that
// flushes and stops it.
//
// OTEL_TRACES_EXPORTER names the exporters: otlp (OTLP over
// http/protobuf, its endpoint, headers, timeout and compression from the
// OTEL_EXPORTER_OTLP_* variables), console (spans as JSON on console: the
// log's stream, so that a command's output stays readable), or none, the
// default. OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the
// resource, OTEL_TRACES_SAMPLER(_ARG) the sampler and OTEL_BSP_* the
// batching; the SDK reads those itself, after Setup has checked them.
//
// With no exporter, spans are still made, so that trace ids reach the log
// and the webhooks, but none is sampled: nothing is recorded or sent.
func Setup(ctx context.Context, version string, console io.Writer) (func(context.Context) error, error) {
	getenv := os.Getenv
	exporters, err := exportersOf(getenv)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "husky"), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if len(exporters) == 0 {
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	} else if err := checkSampler(getenv); err != nil {
		return nil, err
	}
	for _, name := range exporters {
		var exp sdktrace.SpanExporter
		switch name {
		case "otlp":
			if exp, err = otlpExporter(ctx, getenv); err != nil {
				return nil, err
			}
		case "console":
			if exp, err = stdouttrace.New(stdouttrace.WithWriter(console)); err != nil {
				return nil, err
			}
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	// W3C traceparent only, for any library that asks the global
	// propagator: baggage is never read or sent.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// exportersOf reads OTEL_TRACES_EXPORTER (a comma-separated list) and
// OTEL_SDK_DISABLED.
func exportersOf(getenv func(string) string) ([]string, error) {
	if disabled, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); disabled {
		return nil, nil
	}
	var out []string
	for name := range strings.SplitSeq(getenv("OTEL_TRACES_EXPORTER"), ",") {
		switch name = strings.TrimSpace(name); name {
		case "", "none":
		case "otlp", "console":
			out = append(out, name)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not one of otlp, console, none", name)
		}
	}
	return out, nil
}

// otlpExporter sends spans over OTLP's http/protobuf, the one protocol
// this build carries (gRPC would double the binary's dependencies).
func otlpExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(name); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s: %q is not supported; use http/protobuf", name, p)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: %w", err)
	}
	return exp, nil
}

// samplers are the OTEL_TRACES_SAMPLER values the SDK understands.
var samplers = map[string]bool{"always_on": true, "always_off": true, "traceidratio": true,
	"parentbased_always_on": true, "parentbased_always_off": true, "parentbased_traceidratio": true}

// checkSampler refuses a sampler the SDK would ignore with only a line
// in the log.
func checkSampler(getenv func(string) string) error {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	if name == "" {
		return nil
	}
	if !samplers[name] {
		return fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio", name)
	}
	if arg := getenv("OTEL_TRACES_SAMPLER_ARG"); arg != "" && strings.HasSuffix(name, "traceidratio") {
		if r, err := strconv.ParseFloat(arg, 64); err != nil || r < 0 || r > 1 {
			return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg)
		}
	}
	return nil
}
