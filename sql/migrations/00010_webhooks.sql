-- +goose Up
-- Signed outbound webhooks: endpoints registered by a partner (its own events) or
-- by an admin for a program (every event of the program); each event becomes one
-- delivery per matching endpoint, delivered by a Temporal workflow that retries
-- with backoff for three days; every attempt is kept.
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    program_id      uuid NOT NULL REFERENCES programs (id),
    partner_id      uuid REFERENCES partners (id), -- NULL: the program's endpoint (every event)
    url             text NOT NULL CHECK (length(url) <= 2000),
    event_types     text[] NOT NULL DEFAULT '{}',  -- empty: every event type
    secrets         text[] NOT NULL,               -- newest first; deliveries are signed with each
    description     text NOT NULL DEFAULT '',
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz,
    disabled_at     timestamptz,
    disabled_reason text
);
CREATE INDEX webhook_endpoints_program_idx ON webhook_endpoints (program_id) WHERE disabled_at IS NULL;

CREATE TABLE webhook_deliveries (
    id           uuid PRIMARY KEY,
    endpoint_id  uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id     uuid NOT NULL,  -- the same for every attempt and replay: receivers de-duplicate by it
    event_type   text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    runs         integer NOT NULL DEFAULT 0,     -- 1 + replays; the workflow id ends in it
    last_status  integer,
    last_error   text,
    started_at   timestamptz,                    -- its workflow started (NULL: the sweep starts it)
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_unstarted_idx ON webhook_deliveries (created_at) WHERE started_at IS NULL;

CREATE TABLE webhook_attempts (
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
    attempt      integer NOT NULL,
    run          integer NOT NULL,
    at           timestamptz NOT NULL,
    status_code  integer,            -- NULL: no answer (refused, timed out)
    error        text,
    duration_ms  integer NOT NULL,
    PRIMARY KEY (delivery_id, run, attempt)
);

-- +goose Down
DROP TABLE webhook_attempts, webhook_deliveries, webhook_endpoints;
