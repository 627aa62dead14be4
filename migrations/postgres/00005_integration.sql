-- The audit trail sequenced after commit: SQLite's 13.

-- +goose Up
CREATE TABLE audit_pending (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    order_id      TEXT,
    delivery_id   TEXT,
    partner_id    TEXT,
    purge_run_id  TEXT,
    key_id        TEXT,
    request_id    TEXT,
    details       TEXT NOT NULL
);
CREATE INDEX audit_pending_order ON audit_pending (order_id) WHERE order_id IS NOT NULL;

-- +goose Down
DROP TABLE audit_pending;
