-- +goose Up
-- A workflow start is written in the transaction that writes its record, and
-- made after the commit: no workflow without its row, no row without its
-- workflow. A start the process could not make (Temporal away, a crash after
-- the commit) is made by the workers' sweep. token tells one request of a
-- start from a later one under the same workflow id (a joined close, a payout
-- retried again), so marking one started never marks the other.
CREATE TABLE workflow_starts (
    workflow_id text PRIMARY KEY,
    token       uuid NOT NULL,
    start       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX workflow_starts_unstarted_idx ON workflow_starts (created_at) WHERE started_at IS NULL;

-- +goose Down
DROP TABLE workflow_starts;
