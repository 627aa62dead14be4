-- Foundation: partners, API keys, the catalogue, orders and idempotency keys.
-- Times are fixed-width UTC text (sqlite.FormatTime) so they sort as text.

-- +goose Up
CREATE TABLE partners (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('reseller', 'logistics', 'manufacturer')),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Recipients only: where webhooks go and which personal fields they may
    -- receive (Art. 5(1)(c): a subset of phone, email, address).
    endpoint_url     TEXT NOT NULL DEFAULT '',
    fields           TEXT NOT NULL DEFAULT '',
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- Webhook signing secrets. During a rotation the old secret keeps signing
-- until expires_at.
CREATE TABLE partner_secrets (
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (partner_id, created_at)
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('reseller', 'finance', 'admin')),
    partner_id  TEXT REFERENCES partners (id),
    hash        BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    -- A reseller key is bound to exactly one reseller; other roles to none.
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
    id                TEXT PRIMARY KEY,
    reseller_id       TEXT NOT NULL REFERENCES partners (id),
    reference         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN
                        ('received', 'shared', 'accepted', 'shipped', 'delivered', 'cancelled', 'rejected')),
    customer_name     TEXT NOT NULL,
    customer_email    TEXT NOT NULL,
    customer_phone    TEXT NOT NULL,
    ship_organization TEXT NOT NULL,
    ship_line1        TEXT NOT NULL,
    ship_line2        TEXT NOT NULL,
    ship_city         TEXT NOT NULL,
    ship_postal_code  TEXT NOT NULL,
    ship_region       TEXT NOT NULL,
    ship_country      TEXT NOT NULL,
    notes             TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    closed_at         TEXT,
    erased_at         TEXT,
    UNIQUE (reseller_id, reference),
    CHECK ((status IN ('delivered', 'cancelled', 'rejected')) = (closed_at IS NOT NULL))
);
-- Newest first per reseller; ids are time-ordered (UUIDv7).
CREATE INDEX orders_reseller ON orders (reseller_id, id);
CREATE INDEX orders_reseller_status ON orders (reseller_id, status, id);

CREATE TABLE order_items (
    order_id  TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    sku       TEXT NOT NULL REFERENCES catalog (sku),
    quantity  INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (order_id, line)
) WITHOUT ROWID;

-- Idempotency keys hold a hash of the request, never the request itself.
CREATE TABLE idempotency_keys (
    reseller_id   TEXT NOT NULL REFERENCES partners (id),
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    order_id      TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status_code   INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (reseller_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_order ON idempotency_keys (order_id);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE catalog;
DROP TABLE api_keys;
DROP TABLE partners;
