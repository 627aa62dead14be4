-- Security and linkability findings.

-- +goose Up
-- A partial adequacy decision (the United States' EU-US Data Privacy
-- Framework) covers a recipient only under its framework, which the
-- partner names.
ALTER TABLE partners ADD COLUMN adequacy_framework TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE partners DROP COLUMN adequacy_framework;
