-- Hardening: dispatcher heartbeats (a crashed instance's claims are free
-- within seconds), erased orders' deliveries marked so that no answer body
-- is kept for them, operator closes with their reason, and demo partners
-- told apart from real ones.

-- +goose Up
-- One row per running dispatcher. A claim whose owner's heartbeat is stale
-- is free to take, whatever its lease says.
CREATE TABLE dispatchers (
    id            TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);

-- Set by a purge on every delivery of the order it erases, and on the
-- erasure notices it queues: what a recipient answers to them is not kept.
ALTER TABLE deliveries ADD COLUMN order_erased INTEGER NOT NULL DEFAULT 0 CHECK (order_erased IN (0, 1));
UPDATE deliveries SET order_erased = 1
    WHERE order_id IN (SELECT id FROM orders WHERE erased_at IS NOT NULL) OR event_type = 'order.erased';
-- Close the gaps earlier versions left: answer bodies recorded after a
-- purge, and callback details stored for orders already erased.
UPDATE delivery_attempts SET response_body = NULL
    WHERE response_body IS NOT NULL AND delivery_id IN (SELECT id FROM deliveries WHERE order_erased = 1);
UPDATE order_recipients SET message = NULL, carrier = NULL, tracking_number = NULL, tracking_url = NULL
    WHERE order_id IN (SELECT id FROM orders WHERE erased_at IS NOT NULL);
UPDATE order_events SET details = '{}'
    WHERE details != '{}' AND order_id IN (SELECT id FROM orders WHERE erased_at IS NOT NULL);

-- An order an operator closed (`husky orders close`): why, in free text,
-- kept with the order and erased with it.
ALTER TABLE orders ADD COLUMN close_reason TEXT;

-- Partners `husky serve --demo` created: a database holds demo partners or
-- real ones, never both.
ALTER TABLE partners ADD COLUMN demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1));

-- +goose Down
ALTER TABLE partners DROP COLUMN demo;
ALTER TABLE orders DROP COLUMN close_reason;
ALTER TABLE deliveries DROP COLUMN order_erased;
DROP TABLE dispatchers;
