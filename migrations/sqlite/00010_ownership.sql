-- One table, one owner. Legal holds move out of orders into a table of
-- retention's own, and retention works out which orders are past retention
-- from closed_at and the calendar in force when it runs: the stored fiscal
-- year and purge date, and the settings table that noticed a change of
-- calendar to recompute them, go.

-- +goose Up
CREATE TABLE legal_holds (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    reason     BLOB NOT NULL,  -- sealed with the order's data key
    placed_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO legal_holds (order_id, reason, placed_at)
    SELECT id, COALESCE(legal_hold_reason, ''), legal_hold_at FROM orders WHERE legal_hold_at IS NOT NULL;

DROP INDEX orders_purgeable;
DROP INDEX orders_purge;
DROP INDEX orders_held;
ALTER TABLE orders DROP COLUMN legal_hold_at;
ALTER TABLE orders DROP COLUMN legal_hold_reason;
ALTER TABLE orders DROP COLUMN purge_after;
ALTER TABLE orders DROP COLUMN fiscal_year;
DROP TABLE settings;

-- Orders whose personal data is held, by closing time: those past
-- retention are a range of it.
CREATE INDEX orders_closed ON orders (closed_at, id) WHERE erased_at IS NULL AND closed_at IS NOT NULL;
-- Orders not yet shared with every recipient: what the start's
-- reconciliation looks at (the dispatcher hands finished orders to orders
-- after its own commit, and a crash may fall in between).
CREATE INDEX orders_received ON orders (id) WHERE status = 'received';

-- +goose Down
DROP INDEX orders_received;
DROP INDEX orders_closed;
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
ALTER TABLE orders ADD COLUMN fiscal_year INTEGER;
ALTER TABLE orders ADD COLUMN purge_after TEXT;
ALTER TABLE orders ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE orders ADD COLUMN legal_hold_at TEXT;
UPDATE orders SET legal_hold_reason = h.reason, legal_hold_at = h.placed_at
    FROM legal_holds h WHERE h.order_id = orders.id;
CREATE INDEX orders_held ON orders (id) WHERE legal_hold_at IS NOT NULL;
CREATE INDEX orders_purge ON orders (purge_after) WHERE erased_at IS NULL AND purge_after IS NOT NULL;
CREATE INDEX orders_purgeable ON orders (purge_after, fiscal_year)
    WHERE erased_at IS NULL AND purge_after IS NOT NULL AND legal_hold_at IS NULL;
DROP TABLE legal_holds;
-- The empty settings table makes the service before this recompute the
-- fiscal years and purge dates at its next start.
