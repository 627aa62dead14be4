-- Security and linkability findings.

-- +goose Up
-- A partial adequacy decision (the United States' EU-US Data Privacy
-- Framework) covers a recipient only under its framework, which the
-- partner names.
ALTER TABLE partners ADD COLUMN adequacy_framework TEXT NOT NULL DEFAULT '';

-- bound: the order's recipients' answers and timeline entries are sealed
-- bound to their owner (the recipient, the entry's type), so that a value
-- moved to another row does not open. Orders sealed before are bound at
-- the next start (orders.BindSealed); the index finds them.
ALTER TABLE orders ADD COLUMN bound INTEGER NOT NULL DEFAULT 0 CHECK (bound IN (0, 1));
CREATE INDEX orders_unbound ON orders (id) WHERE bound = 0 AND sealed = 1 AND erased_at IS NULL;

-- The lookup key each stored keyed hash was made with: husky keys
-- rotate-lookup makes every live order's hashes again under a new key (and
-- the requests' and restrictions' that match them), and a retired key is
-- destroyed only once nothing was hashed with it.
ALTER TABLE orders ADD COLUMN lookup_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE subject_requests ADD COLUMN lookup_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE restricted_subjects ADD COLUMN lookup_version INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE restricted_subjects DROP COLUMN lookup_version;
ALTER TABLE subject_requests DROP COLUMN lookup_version;
ALTER TABLE orders DROP COLUMN lookup_version;
DROP INDEX orders_unbound;
ALTER TABLE orders DROP COLUMN bound;
ALTER TABLE partners DROP COLUMN adequacy_framework;
