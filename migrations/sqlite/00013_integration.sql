-- The audit trail sequenced after commit (Trillian's sequencer, Certificate
-- Transparency's merge delay): on PostgreSQL a transaction writes its
-- entries to audit_pending, and the integrator gives them their places
-- (migrations/postgres/00005_integration.sql). On SQLite the single writer
-- already runs one transaction at a time, and the committing transaction
-- gives its entries their places itself (audit.writeAt): this table stays
-- empty and is here so that the trail's reads (pending counts, an order's
-- pending entries) are one text on both engines.

-- +goose Up
CREATE TABLE audit_pending (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
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
