-- The console: server-side sessions, and what its pages read fast.
-- Endpoint health moves to a table of the sharing package's own, so that
-- sharing no longer writes the partners table.

-- +goose Up
-- A console session is referenced by a cookie holding a random token; only
-- the token's SHA-256 is stored. It ends 30 minutes after its last use,
-- at sign-out, or when its key is revoked.
CREATE TABLE console_sessions (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    key_id      TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('finance', 'admin', 'privacy')),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_seen ON console_sessions (last_seen);

-- Deliveries by recipient, newest first: the console's filter.
CREATE INDEX deliveries_partner ON deliveries (partner_id, id);
-- The purge report's counts per fiscal year, read from the index alone.
CREATE INDEX orders_purgeable ON orders (purge_after, fiscal_year)
    WHERE erased_at IS NULL AND purge_after IS NOT NULL AND legal_hold_at IS NULL;

-- When each recipient's current run of failures began (sharing's).
CREATE TABLE endpoint_health (
    partner_id     TEXT PRIMARY KEY REFERENCES partners (id),
    failing_since  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO endpoint_health (partner_id, failing_since)
    SELECT id, failing_since FROM partners WHERE failing_since IS NOT NULL;
ALTER TABLE partners DROP COLUMN failing_since;

-- +goose Down
ALTER TABLE partners ADD COLUMN failing_since TEXT;
UPDATE partners SET failing_since = (SELECT failing_since FROM endpoint_health h WHERE h.partner_id = partners.id);
DROP TABLE endpoint_health;
DROP INDEX orders_purgeable;
DROP INDEX deliveries_partner;
DROP TABLE console_sessions;
