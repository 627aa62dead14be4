-- The audit trail sequenced after commit (Trillian's sequencer, Certificate
-- Transparency's merge delay): a transaction writes its entries here, in
-- the same transaction as the change they record, without a place in the
-- tree and without waiting for any other transaction. The integrator (the
-- leader) gives them their gap-free sequence numbers and tree hashes in
-- batches, moving them into audit_entries and audit_hashes in one short
-- transaction each. id keeps the order they were written in.

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
