-- The whole schema on PostgreSQL, as SQLite's migrations 1 to 10 leave it,
-- with the same invariants: CHECK, NOT NULL, foreign keys, unique indexes
-- and append-only audit tables. Times are fixed-width UTC text, as on
-- SQLite, so that the same queries compare and sort them; flags are 0/1
-- integers; personal values (sealed with their order's data key) and keyed
-- hashes are BYTEA.

-- +goose Up
CREATE TABLE partners (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('reseller', 'logistics', 'manufacturer')),
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    endpoint_url     TEXT NOT NULL DEFAULT '',
    fields           TEXT NOT NULL DEFAULT '',
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason  TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    demo             INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    country          TEXT NOT NULL DEFAULT 'DK' CHECK (length(country) = 2),
    transfer_basis   TEXT NOT NULL DEFAULT 'eea' CHECK (transfer_basis IN ('eea', 'adequacy', 'scc', 'bcr'))
);

CREATE TABLE partner_secrets (
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (partner_id, created_at)
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('reseller', 'finance', 'admin', 'privacy')),
    partner_id  TEXT REFERENCES partners (id),
    hash        BYTEA NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'reseller') = (partner_id IS NOT NULL))
);

CREATE TABLE catalog (
    sku        TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    orderable  INTEGER NOT NULL DEFAULT 1 CHECK (orderable IN (0, 1))
);
INSERT INTO catalog (sku, name) VALUES
    ('HE150D-4TB',    'Milestone Husky IVO 150D, 4 TB'),
    ('HE150D-8TB',    'Milestone Husky IVO 150D, 8 TB'),
    ('HE350T-8TB',    'Milestone Husky IVO 350T, 8 TB'),
    ('HE350T-16TB',   'Milestone Husky IVO 350T, 16 TB'),
    ('HE350R-8TB',    'Milestone Husky IVO 350R, 8 TB'),
    ('HE350R-16TB',   'Milestone Husky IVO 350R, 16 TB'),
    ('HE350R-32TB',   'Milestone Husky IVO 350R, 32 TB'),
    ('HE700R-16TB',   'Milestone Husky IVO 700R, 16 TB'),
    ('HE700R-32TB',   'Milestone Husky IVO 700R, 32 TB'),
    ('HE700R-64TB',   'Milestone Husky IVO 700R, 64 TB'),
    ('HE1000R-48TB',  'Milestone Husky IVO 1000R, 48 TB'),
    ('HE1000R-96TB',  'Milestone Husky IVO 1000R, 96 TB'),
    ('HE1800R-96TB',  'Milestone Husky IVO 1800R, 96 TB'),
    ('HE1800R-192TB', 'Milestone Husky IVO 1800R, 192 TB');

CREATE TABLE orders (
    id                 TEXT PRIMARY KEY,
    reseller_id        TEXT NOT NULL REFERENCES partners (id),
    -- The keyed hash of the reference, which keeps it unique per reseller.
    reference_hash     BYTEA NOT NULL,
    status             TEXT NOT NULL CHECK (status IN
                         ('received', 'shared', 'accepted', 'shipped', 'delivered', 'cancelled', 'rejected')),
    customer_name      BYTEA NOT NULL,
    customer_email     BYTEA NOT NULL,
    customer_phone     BYTEA NOT NULL,
    ship_organization  BYTEA NOT NULL,
    ship_line1         BYTEA NOT NULL,
    ship_line2         BYTEA NOT NULL,
    ship_city          BYTEA NOT NULL,
    ship_postal_code   BYTEA NOT NULL,
    ship_region        BYTEA NOT NULL,
    ship_country       BYTEA NOT NULL,
    notes              BYTEA NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    closed_at          TEXT,
    erased_at          TEXT,
    close_reason       BYTEA,
    email_hash         BYTEA,
    phone_hash         BYTEA,
    sealed             INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1)),
    reference          BYTEA NOT NULL DEFAULT '',
    UNIQUE (reseller_id, reference_hash),
    CHECK ((status IN ('delivered', 'cancelled', 'rejected')) = (closed_at IS NOT NULL))
);
CREATE INDEX orders_reseller ON orders (reseller_id, id);
CREATE INDEX orders_reseller_status ON orders (reseller_id, status, id);
CREATE INDEX orders_open ON orders (created_at) WHERE closed_at IS NULL;
CREATE INDEX orders_email_hash ON orders (email_hash) WHERE email_hash IS NOT NULL;
CREATE INDEX orders_phone_hash ON orders (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX orders_unsealed ON orders (id) WHERE sealed = 0 AND erased_at IS NULL;
CREATE INDEX orders_closed ON orders (closed_at, id) WHERE erased_at IS NULL AND closed_at IS NOT NULL;
CREATE INDEX orders_received ON orders (id) WHERE status = 'received';

CREATE TABLE order_items (
    order_id  TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    sku       TEXT NOT NULL REFERENCES catalog (sku),
    quantity  INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (order_id, line)
);

CREATE TABLE idempotency_keys (
    reseller_id   TEXT NOT NULL REFERENCES partners (id),
    key           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    order_id      TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status_code   INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (reseller_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_order ON idempotency_keys (order_id);

CREATE TABLE order_recipients (
    order_id              TEXT NOT NULL REFERENCES orders (id),
    partner_id            TEXT NOT NULL REFERENCES partners (id),
    status                TEXT CHECK (status IS NULL OR status IN ('accepted', 'rejected', 'shipped', 'delivered')),
    estimated_ship_date   TEXT,
    reason_code           TEXT,
    message               BYTEA,
    carrier               BYTEA,
    tracking_number       BYTEA,
    tracking_url          BYTEA,
    delivered_at          TEXT,
    erasure_confirmed_at  TEXT,
    updated_at            TEXT NOT NULL,
    PRIMARY KEY (order_id, partner_id)
);

CREATE TABLE order_events (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    time         TEXT NOT NULL,
    type         TEXT NOT NULL,
    source       TEXT NOT NULL,
    partner_id   TEXT,
    from_status  TEXT,
    to_status    TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'conflict', 'refused')),
    details      BYTEA NOT NULL DEFAULT '{}'
);
CREATE INDEX order_events_order ON order_events (order_id, id);
CREATE INDEX order_events_conflicts ON order_events (id) WHERE outcome = 'conflict';

CREATE TABLE callback_receipts (
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    webhook_id   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    order_id     TEXT,
    status_code  INTEGER NOT NULL,
    response     BYTEA NOT NULL,
    PRIMARY KEY (partner_id, webhook_id)
);
CREATE INDEX callback_receipts_order ON callback_receipts (order_id);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partners (id),
    order_id         TEXT REFERENCES orders (id),
    event_type       TEXT NOT NULL,
    payload          BYTEA NOT NULL,
    payload_sha256   TEXT NOT NULL,
    fields           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
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
    last_error       TEXT NOT NULL DEFAULT '',
    order_erased     INTEGER NOT NULL DEFAULT 0 CHECK (order_erased IN (0, 1)),
    held             INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1))
);
CREATE INDEX deliveries_order ON deliveries (order_id);
CREATE INDEX deliveries_status ON deliveries (status, id);
CREATE INDEX deliveries_dead ON deliveries (dead_at) WHERE status = 'dead';
CREATE INDEX deliveries_due ON deliveries (partner_id, next_attempt_at) WHERE status = 'pending' AND held = 0;
CREATE INDEX deliveries_held ON deliveries (order_id) WHERE held = 1;
CREATE INDEX deliveries_partner ON deliveries (partner_id, id);

CREATE TABLE delivery_attempts (
    delivery_id    TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt        INTEGER NOT NULL,
    started_at     TEXT NOT NULL,
    duration_ms    DOUBLE PRECISION NOT NULL,
    http_status    INTEGER,
    error          TEXT NOT NULL DEFAULT '',
    response_body  BYTEA,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE dispatchers (
    id            TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);

CREATE TABLE endpoint_health (
    partner_id     TEXT PRIMARY KEY REFERENCES partners (id),
    failing_since  TEXT NOT NULL
);

CREATE TABLE restricted_orders (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    request_id  TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (order_id, request_id)
);

CREATE TABLE restricted_subjects (
    hash        BYTEA NOT NULL,
    request_id  TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (hash, request_id)
);

CREATE TABLE audit_entries (
    seq           BIGINT PRIMARY KEY CHECK (seq >= 0),
    time          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    order_id      TEXT,
    delivery_id   TEXT,
    partner_id    TEXT,
    purge_run_id  TEXT,
    key_id        TEXT,
    details       TEXT NOT NULL,
    request_id    TEXT
);
CREATE INDEX audit_entries_order ON audit_entries (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE audit_hashes (
    idx   BIGINT PRIMARY KEY,
    hash  BYTEA NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE audit_checkpoints (
    tree_size   BIGINT PRIMARY KEY,
    root_hash   BYTEA NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit tables are append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_hashes_append_only BEFORE UPDATE OR DELETE ON audit_hashes
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_hashes_no_truncate BEFORE TRUNCATE ON audit_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE purge_runs (
    id           TEXT PRIMARY KEY,
    as_of        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    orders       INTEGER NOT NULL DEFAULT 0,
    erased       INTEGER NOT NULL DEFAULT 0,
    held         INTEGER NOT NULL DEFAULT 0,
    notices      INTEGER NOT NULL DEFAULT 0,
    digest       TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX purge_runs_one_running ON purge_runs (status) WHERE status = 'running';

CREATE TABLE purge_run_orders (
    run_id     TEXT NOT NULL REFERENCES purge_runs (id),
    order_id   TEXT NOT NULL REFERENCES orders (id),
    erased_at  TEXT,
    outcome    TEXT CHECK (outcome IS NULL OR outcome IN ('erased', 'held', 'already_erased')),
    PRIMARY KEY (run_id, order_id)
);
CREATE INDEX purge_run_orders_pending ON purge_run_orders (run_id, order_id) WHERE outcome IS NULL;

CREATE TABLE legal_holds (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    reason     BYTEA NOT NULL,
    placed_at  TEXT NOT NULL
);

CREATE TABLE subject_requests (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL CHECK (type IN ('access', 'rectification', 'erasure', 'restriction', 'objection')),
    status        TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    email_hash    BYTEA,
    phone_hash    BYTEA,
    received_at   TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    completed_at  TEXT,
    actor         TEXT NOT NULL,
    CHECK (email_hash IS NOT NULL OR phone_hash IS NOT NULL),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX subject_requests_open ON subject_requests (due_at) WHERE status = 'open';

CREATE TABLE subject_steps (
    request_id  TEXT NOT NULL REFERENCES subject_requests (id),
    seq         INTEGER NOT NULL,
    time        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE subject_erasures (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    request_id  TEXT NOT NULL REFERENCES subject_requests (id),
    since       TEXT NOT NULL,
    PRIMARY KEY (order_id, request_id)
);

CREATE TABLE console_sessions (
    token_hash  BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    key_id      TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('finance', 'admin', 'privacy')),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (last_seen);

CREATE TABLE data_keys (
    order_id  TEXT PRIMARY KEY,
    version   INTEGER NOT NULL CHECK (version > 0),
    wrapped   BYTEA NOT NULL
);
CREATE INDEX data_keys_version ON data_keys (version);

-- +goose Down
DROP TABLE data_keys, console_sessions, subject_erasures, subject_steps, subject_requests, legal_holds,
    purge_run_orders, purge_runs, audit_checkpoints, audit_hashes, audit_entries, restricted_subjects,
    restricted_orders, endpoint_health, dispatchers, delivery_attempts, deliveries, callback_receipts,
    order_events, order_recipients, idempotency_keys, order_items, orders, catalog, api_keys,
    partner_secrets, partners;
DROP FUNCTION audit_append_only();
