-- Sharing: the transactional outbox of webhook deliveries and every attempt.

-- +goose Up
CREATE TABLE deliveries (
    -- The delivery id is the webhook-id: stable across retries and replays,
    -- the receiver's deduplication key.
    id               TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partners (id),
    order_id         TEXT REFERENCES orders (id),
    event_type       TEXT NOT NULL,
    -- The exact body sent. It may hold personal data and is erased by a purge.
    payload          BLOB NOT NULL,
    payload_sha256   TEXT NOT NULL,
    -- Personal fields this payload discloses (names only).
    fields           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    -- attempts counts every attempt ever made; step counts those since the
    -- schedule last (re)started, and a replay resets it.
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    step             INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
    next_attempt_at  TEXT NOT NULL,
    lease_owner      TEXT,
    lease_until      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    delivered_at     TEXT,
    dead_at          TEXT,
    last_status      INTEGER,
    last_error       TEXT NOT NULL DEFAULT ''
);
-- Due work per recipient: the dispatcher claims from each enabled recipient.
CREATE INDEX deliveries_due ON deliveries (partner_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_order ON deliveries (order_id);
CREATE INDEX deliveries_status ON deliveries (status, id);
CREATE INDEX deliveries_dead ON deliveries (dead_at) WHERE status = 'dead';

CREATE TABLE delivery_attempts (
    delivery_id    TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt        INTEGER NOT NULL,
    started_at     TEXT NOT NULL,
    duration_ms    REAL NOT NULL,
    http_status    INTEGER,
    error          TEXT NOT NULL DEFAULT '',
    -- First 4 KiB of the answer; erased by a purge, as receivers may echo data.
    response_body  BLOB,
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

-- Endpoint health: when the recipient's current run of failures began.
ALTER TABLE partners ADD COLUMN failing_since TEXT;

-- +goose Down
ALTER TABLE partners DROP COLUMN failing_since;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
