-- Lifecycle: each recipient's latest answer beside the order's state, the
-- order's timeline, and the receipts that make callbacks idempotent.

-- +goose Up
CREATE TABLE order_recipients (
    order_id              TEXT NOT NULL REFERENCES orders (id),
    partner_id            TEXT NOT NULL REFERENCES partners (id),
    status                TEXT CHECK (status IS NULL OR status IN ('accepted', 'rejected', 'shipped', 'delivered')),
    estimated_ship_date   TEXT,
    reason_code           TEXT,
    -- Free text from the partner and shipment details: erased by a purge.
    message               TEXT,
    carrier               TEXT,
    tracking_number       TEXT,
    tracking_url          TEXT,
    delivered_at          TEXT,
    erasure_confirmed_at  TEXT,
    updated_at            TEXT NOT NULL,
    PRIMARY KEY (order_id, partner_id)
) WITHOUT ROWID;

CREATE TABLE order_events (
    id           INTEGER PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    time         TEXT NOT NULL,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    partner_id   TEXT,
    from_status  TEXT,
    to_status    TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'conflict', 'refused')),
    details      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX order_events_order ON order_events (order_id, id);
CREATE INDEX order_events_conflicts ON order_events (id) WHERE outcome = 'conflict';

-- One row per callback webhook-id: a repeat is answered again, applied once.
CREATE TABLE callback_receipts (
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    webhook_id   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    order_id     TEXT,
    status_code  INTEGER NOT NULL,
    response     BLOB NOT NULL,
    PRIMARY KEY (partner_id, webhook_id)
) WITHOUT ROWID;
CREATE INDEX callback_receipts_order ON callback_receipts (order_id);

-- +goose Down
DROP TABLE callback_receipts;
DROP TABLE order_events;
DROP TABLE order_recipients;
