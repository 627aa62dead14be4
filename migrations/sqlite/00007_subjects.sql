-- Data-subject rights (GDPR Art. 15-21): the privacy role, keyed-hash
-- lookups of a person's orders, restrictions of sharing, recipients'
-- countries and transfer safeguards, and the requests themselves.

-- +goose Up
-- Keyed hashes (HMAC-SHA256, the keyring's lookup key) of the normalised
-- email and phone: a person's orders are found through an index, never by
-- scanning, and never by a stored plain value. Cleared when the order is
-- erased, so the index holds nothing of an erased order.
ALTER TABLE orders ADD COLUMN email_hash BLOB;
ALTER TABLE orders ADD COLUMN phone_hash BLOB;
CREATE INDEX orders_email_hash ON orders (email_hash) WHERE email_hash IS NOT NULL;
CREATE INDEX orders_phone_hash ON orders (phone_hash) WHERE phone_hash IS NOT NULL;

-- The data-protection officer's role. SQLite cannot change a CHECK, so the
-- table is built again.
CREATE TABLE api_keys_new (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('reseller', 'finance', 'admin', 'privacy')),
    partner_id  TEXT REFERENCES partners (id),
    hash        BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'reseller') = (partner_id IS NOT NULL))
);
INSERT INTO api_keys_new (id, role, partner_id, hash, created_at, revoked_at)
    SELECT id, role, partner_id, hash, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

-- Where a recipient is and what makes a transfer there lawful (Art. 44-46).
ALTER TABLE partners ADD COLUMN country TEXT NOT NULL DEFAULT 'DK' CHECK (length(country) = 2);
ALTER TABLE partners ADD COLUMN transfer_basis TEXT NOT NULL DEFAULT 'eea'
    CHECK (transfer_basis IN ('eea', 'adequacy', 'scc', 'bcr'));

-- Restriction (Art. 18, 21): a held delivery carries a restricted
-- subject's personal data and waits, unclaimed and uncounted, until the
-- restriction is lifted. The due index leaves held rows out.
ALTER TABLE deliveries ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1));
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (partner_id, next_attempt_at) WHERE status = 'pending' AND held = 0;
CREATE INDEX deliveries_held ON deliveries (order_id) WHERE held = 1;
-- Which orders are restricted, and which subjects (by keyed hash), so
-- that an order the same person places later is restricted too.
CREATE TABLE restricted_orders (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    request_id  TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (order_id, request_id)
) WITHOUT ROWID;
CREATE TABLE restricted_subjects (
    hash        BLOB NOT NULL,
    request_id  TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (hash, request_id)
) WITHOUT ROWID;

-- Audit entries may name the subject request they record.
ALTER TABLE audit_entries ADD COLUMN request_id TEXT;

-- The requests. The person is named by keyed hashes only.
CREATE TABLE subject_requests (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL CHECK (type IN ('access', 'rectification', 'erasure', 'restriction', 'objection')),
    status        TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    email_hash    BLOB,
    phone_hash    BLOB,
    received_at   TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    completed_at  TEXT,
    actor         TEXT NOT NULL,
    CHECK (email_hash IS NOT NULL OR phone_hash IS NOT NULL),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX subject_requests_open ON subject_requests (due_at) WHERE status = 'open';

-- Every step taken on a request and its outcome: ids, field names and
-- outcomes, never values.
CREATE TABLE subject_steps (
    request_id  TEXT NOT NULL REFERENCES subject_requests (id),
    seq         INTEGER NOT NULL,
    time        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;

-- Erasures waiting for an open order to close (Art. 17): erased at once if
-- it closes cancelled or rejected, retained for bookkeeping otherwise.
CREATE TABLE subject_erasures (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    request_id  TEXT NOT NULL REFERENCES subject_requests (id),
    since       TEXT NOT NULL,
    PRIMARY KEY (order_id, request_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE subject_erasures;
DROP TABLE subject_steps;
DROP TABLE subject_requests;
ALTER TABLE audit_entries DROP COLUMN request_id;
DROP TABLE restricted_subjects;
DROP TABLE restricted_orders;
DROP INDEX deliveries_held;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (partner_id, next_attempt_at) WHERE status = 'pending';
ALTER TABLE deliveries DROP COLUMN held;
ALTER TABLE partners DROP COLUMN transfer_basis;
ALTER TABLE partners DROP COLUMN country;
DROP INDEX orders_phone_hash;
DROP INDEX orders_email_hash;
ALTER TABLE orders DROP COLUMN phone_hash;
ALTER TABLE orders DROP COLUMN email_hash;
