-- Retention: each closed order's fiscal year and the instant its personal
-- data becomes purgeable, legal holds, and purge runs with their evidence.

-- +goose Up
ALTER TABLE orders ADD COLUMN fiscal_year INTEGER;
ALTER TABLE orders ADD COLUMN purge_after TEXT;
ALTER TABLE orders ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE orders ADD COLUMN legal_hold_at TEXT;
CREATE INDEX orders_purge ON orders (purge_after) WHERE erased_at IS NULL AND purge_after IS NOT NULL;
CREATE INDEX orders_open ON orders (created_at) WHERE closed_at IS NULL;
CREATE INDEX orders_held ON orders (id) WHERE legal_hold_at IS NOT NULL;

-- The fiscal calendar the stored fiscal_year and purge_after were computed
-- with; a change of configuration recomputes them at start.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

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
-- One purge at a time.
CREATE UNIQUE INDEX purge_runs_one_running ON purge_runs (status) WHERE status = 'running';

-- The evidence: which orders a run erased (ids only).
CREATE TABLE purge_run_orders (
    run_id     TEXT NOT NULL REFERENCES purge_runs (id),
    order_id   TEXT NOT NULL REFERENCES orders (id),
    erased_at  TEXT,
    -- erased, or why not: held (a legal hold arrived after the run began),
    -- already_erased (another run got there first).
    outcome    TEXT CHECK (outcome IS NULL OR outcome IN ('erased', 'held', 'already_erased')),
    PRIMARY KEY (run_id, order_id)
) WITHOUT ROWID;
CREATE INDEX purge_run_orders_pending ON purge_run_orders (run_id, order_id) WHERE outcome IS NULL;

-- +goose Down
DROP TABLE purge_run_orders;
DROP TABLE purge_runs;
DROP TABLE settings;
DROP INDEX orders_held;
DROP INDEX orders_open;
DROP INDEX orders_purge;
ALTER TABLE orders DROP COLUMN legal_hold_at;
ALTER TABLE orders DROP COLUMN legal_hold_reason;
ALTER TABLE orders DROP COLUMN purge_after;
ALTER TABLE orders DROP COLUMN fiscal_year;
