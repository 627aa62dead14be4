-- The keyring and the audit signing key in the database, sealed by the
-- root key: SQLite's 14.

-- +goose Up
CREATE TABLE sealed_secrets (
    name          TEXT PRIMARY KEY,
    sealed        BYTEA NOT NULL,
    root_version  BIGINT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- +goose Down
DROP TABLE sealed_secrets;
