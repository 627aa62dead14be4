-- Subject rights one can trust (GDPR Art. 12-21): a request's candidate
-- orders with the DPO's decisions, extended deadlines, what a restriction
-- stands for, and the erasure notices a reminder looks for. SQLite's 11.

-- +goose Up
ALTER TABLE subject_requests ADD COLUMN extended_at TEXT;
ALTER TABLE subject_requests ADD COLUMN extension_reason TEXT;

CREATE TABLE subject_candidates (
    request_id  TEXT NOT NULL REFERENCES subject_requests (id),
    order_id    TEXT NOT NULL REFERENCES orders (id),
    matched_on  TEXT NOT NULL,
    decision    TEXT CHECK (decision IS NULL OR decision IN ('included', 'excluded')),
    reason      TEXT NOT NULL DEFAULT '',
    decided_by  TEXT,
    decided_at  TEXT,
    found_at    TEXT NOT NULL,
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    PRIMARY KEY (request_id, order_id)
);

ALTER TABLE restricted_orders ADD COLUMN kind TEXT NOT NULL DEFAULT 'restriction'
    CHECK (kind IN ('restriction', 'retained_erasure', 'new_order'));

CREATE INDEX deliveries_erasure_notices ON deliveries (order_id, partner_id) WHERE event_type = 'order.erased';

-- +goose Down
DROP INDEX deliveries_erasure_notices;
ALTER TABLE restricted_orders DROP COLUMN kind;
DROP TABLE subject_candidates;
ALTER TABLE subject_requests DROP COLUMN extension_reason;
ALTER TABLE subject_requests DROP COLUMN extended_at;
