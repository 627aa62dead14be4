-- The keyring and the audit signing key kept in the database, each sealed
-- by the root key every instance reads from HUSKY_ROOT_KEY_FILE
-- (PostgreSQL's 00006). name is "keyring" or "audit-key"; root_version is
-- the root key version that sealed it, so that a version still in use is
-- never destroyed (husky keys prune-root). Package keys owns it.

-- +goose Up
CREATE TABLE sealed_secrets (
    name          TEXT PRIMARY KEY,
    sealed        BLOB NOT NULL,
    root_version  INTEGER NOT NULL,
    updated_at    TEXT NOT NULL
);

-- +goose Down
DROP TABLE sealed_secrets;
