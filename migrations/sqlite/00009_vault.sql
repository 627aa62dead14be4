-- Personal data encrypted at rest: a data key per order, wrapped by the
-- keyring's master key (package vault), and the columns that let sealed
-- values still be unique and found.

-- +goose Up
CREATE TABLE data_keys (
    order_id  TEXT PRIMARY KEY,
    version   INTEGER NOT NULL CHECK (version > 0),  -- the master key version that wraps it
    wrapped   BLOB NOT NULL
) WITHOUT ROWID;
-- Re-wrapping after a rotation finds the keys of older versions; pruning
-- and the start check count them.
CREATE INDEX data_keys_version ON data_keys (version);

-- sealed: the order's personal values are sealed with its data key. A
-- database from before the vault has them in plain text until the next
-- start seals them.
ALTER TABLE orders ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1));
CREATE INDEX orders_unsealed ON orders (id) WHERE sealed = 0 AND erased_at IS NULL;
-- The reference is sealed too; a keyed hash keeps it unique per reseller.
-- The hash takes over the column that UNIQUE (reseller_id, reference)
-- already constrains, so uniqueness costs one index as before rather than
-- two (a second index of random keys slowed intake by a tenth). Until the
-- next start seals them, orders from before hold their plain reference in
-- both columns: unique all the same, and never equal to a hash (text is
-- never equal to a blob).
ALTER TABLE orders RENAME COLUMN reference TO reference_hash;
ALTER TABLE orders ADD COLUMN reference BLOB NOT NULL DEFAULT '';
UPDATE orders SET reference = reference_hash;

-- +goose Down
-- Sealed references stay sealed: going down restores the schema, not
-- plain text.
ALTER TABLE orders DROP COLUMN reference;
ALTER TABLE orders RENAME COLUMN reference_hash TO reference;
DROP INDEX orders_unsealed;
ALTER TABLE orders DROP COLUMN sealed;
DROP TABLE data_keys;
