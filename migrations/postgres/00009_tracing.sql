-- The W3C trace context of the work that queued a delivery (SQLite's
-- 00017): the traceparent of the reseller's order request, a subject
-- request or a purge, so that every attempt to send it is a span of that
-- trace and the webhook carries it on to the recipient. Only the
-- traceparent is kept (ids and a flag, no personal data, no tracestate);
-- '' where none was known, as for the deliveries queued before.

-- +goose Up
ALTER TABLE deliveries ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN trace_parent;
