-- A purge run counts the subject requests whose records it deleted:
-- SQLite's 15.

-- +goose Up
ALTER TABLE purge_runs ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE purge_runs DROP COLUMN requests;
