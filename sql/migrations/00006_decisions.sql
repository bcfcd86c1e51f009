-- +goose Up
-- Decisions that hold under concurrency: a partner's first API key waits inactive
-- until the approval that names it is recorded; an idempotency claim keeps what a
-- retry needs to finish the same request; every decision is an audit event.

ALTER TABLE api_keys ADD COLUMN activated_at timestamptz DEFAULT now();

ALTER TABLE idempotency_keys ADD COLUMN pending jsonb; -- the handler's state for a retry (e.g. the key it made)

CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    actor       text NOT NULL,
    action      text NOT NULL,      -- e.g. deal.approve, payout.mark_paid, key.create, program.update_deals
    record_type text NOT NULL,      -- deal, partner, mdf_request, conversion, close, payout, api_key, program
    record_id   uuid NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'refused', 'pending')),
    reason      text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}',
    request_id  text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_record ON audit_events (record_type, record_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);

-- +goose Down
DROP TABLE audit_events;
ALTER TABLE idempotency_keys DROP COLUMN pending;
ALTER TABLE api_keys DROP COLUMN activated_at;
