-- Audit: an append-only Merkle log (RFC 6962 hashing, golang.org/x/mod/sumdb/tlog)
-- with signed checkpoints. It holds ids, field names, hashes, times and actors,
-- never personal values, so it can be kept forever.

-- +goose Up
CREATE TABLE audit_entries (
    seq           INTEGER PRIMARY KEY CHECK (seq >= 0),  -- the record's index in the tree
    time          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    order_id      TEXT,
    delivery_id   TEXT,
    partner_id    TEXT,
    purge_run_id  TEXT,
    key_id        TEXT,
    details       TEXT NOT NULL  -- canonical JSON object of strings
);
CREATE INDEX audit_entries_order ON audit_entries (order_id) WHERE order_id IS NOT NULL;

-- tlog's stored hashes: index = tlog.StoredHashIndex(level, n).
CREATE TABLE audit_hashes (
    idx   INTEGER PRIMARY KEY,
    hash  BLOB NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE audit_checkpoints (
    tree_size   INTEGER PRIMARY KEY,
    root_hash   BLOB NOT NULL,
    note        TEXT NOT NULL,   -- signed sumdb/note text
    created_at  TEXT NOT NULL
);

-- Append-only in the schema too. Anyone with write access to the file can
-- drop these triggers; the signed checkpoints are what catches that.
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_hashes_no_update BEFORE UPDATE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit hashes are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_hashes_no_delete BEFORE DELETE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit hashes are append-only'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_entries;
