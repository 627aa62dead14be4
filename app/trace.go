package app

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/tracing"
)

// traced makes every request a server span, continuing the caller's
// trace when it sent a valid traceparent (the caller's tracestate and
// baggage are not kept; oversized ones start a new trace). The span is
// named after the route template and carries the method, the route, the
// status and the service's own ids: never the path, a query or a header,
// which may hold anything.
func (a *App) traced(c *gin.Context) {
	method, route := methodOf(c), routeOf(c)
	ctx := tracing.FromRequest(c.Request.Context(), c.Request.Header)
	ctx, span := tracing.Start(ctx, method+" "+route, trace.SpanKindServer,
		attribute.String("http.request.method", method), attribute.String("http.route", route))
	c.Request = c.Request.WithContext(ctx)
	c.Next()
	status := c.Writer.Status()
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if o := c.GetString("order_id"); idPattern.MatchString(o) {
		span.SetAttributes(attribute.String("husky.order_id", o))
	}
	if status >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
