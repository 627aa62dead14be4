-- Records about subject requests are personal data too: a purge run also
-- deletes completed requests past their retention and counts them here
-- (PostgreSQL's 00007).

-- +goose Up
ALTER TABLE purge_runs ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE purge_runs DROP COLUMN requests;
