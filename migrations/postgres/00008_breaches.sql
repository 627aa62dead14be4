-- The breach register (GDPR Art. 33 and 34), breaches' own table, and the
-- delivery country of each order in the clear (SQLite's 00016).
--
-- orders.country is the ISO 3166-1 code of the delivery address, the one
-- value of it a breach notification must count (which member states'
-- persons are affected) over a million orders without opening each one's
-- sealed address. It is cleared with the rest when the order is erased;
-- NULL for orders taken before this migration (counted as unknown).
--
-- A breach's impact is stored as figures only (JSON counts), never as
-- personal data; the register is kept for Art. 33(5).

-- orders_holdings covers what a breach's impact reads of every order
-- (orders.Holdings): a scan of it reads no sealed column.

-- +goose Up
ALTER TABLE orders ADD COLUMN country TEXT;
CREATE INDEX orders_holdings ON orders (created_at, id, email_hash, phone_hash, country, erased_at);

CREATE TABLE breaches (
    id            TEXT PRIMARY KEY,
    -- 'service' (this service itself) or the recipients' partner ids,
    -- comma-separated.
    scope         TEXT NOT NULL CHECK (scope IN ('service', 'recipients')),
    partners      TEXT NOT NULL DEFAULT '',
    window_from   TEXT NOT NULL,
    window_to     TEXT NOT NULL,
    aware_at      TEXT NOT NULL,
    description   TEXT NOT NULL,
    consequences  TEXT NOT NULL DEFAULT '',
    measures      TEXT NOT NULL DEFAULT '',
    opened_by     TEXT NOT NULL,
    opened_at     TEXT NOT NULL,
    impact        TEXT NOT NULL DEFAULT '',
    impact_at     TEXT,
    notified_at   TEXT,
    late_reason   TEXT NOT NULL DEFAULT '',
    high_risk     INTEGER NOT NULL DEFAULT 0 CHECK (high_risk IN (0, 1)),
    risk_reason   TEXT NOT NULL DEFAULT '',
    advice        TEXT NOT NULL DEFAULT '',
    CHECK (window_from <= window_to),
    CHECK ((scope = 'service') = (partners = ''))
);

-- +goose Down
DROP TABLE breaches;
DROP INDEX orders_holdings;
ALTER TABLE orders DROP COLUMN country;
