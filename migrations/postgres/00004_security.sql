-- Security and linkability findings. SQLite's 12.

-- +goose Up
ALTER TABLE partners ADD COLUMN adequacy_framework TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE partners DROP COLUMN adequacy_framework;
