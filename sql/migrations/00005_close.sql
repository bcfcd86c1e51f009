-- +goose Up
-- The monthly commission close: statements per partner, payouts, and their
-- ledger entries (commission payable → cash).

ALTER TABLE programs
    ADD COLUMN payout_minimum numeric(14, 2) NOT NULL DEFAULT 50 CHECK (payout_minimum >= 0),
    ADD COLUMN payout_provider text NOT NULL DEFAULT 'file' CHECK (payout_provider IN ('file', 'http')),
    ADD COLUMN close_day integer NOT NULL DEFAULT 1 CHECK (close_day BETWEEN 1 AND 28);

ALTER TABLE partners ADD COLUMN payout_details text NOT NULL DEFAULT ''; -- e.g. an IBAN or a provider account

CREATE TABLE closes (
    id           uuid PRIMARY KEY,
    program_id   uuid NOT NULL REFERENCES programs (id),
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    period_end   timestamptz NOT NULL, -- lines that happened before it belong to this close
    status       text NOT NULL CHECK (status IN ('computing', 'review', 'paying', 'completed')),
    workflow_id  text NOT NULL UNIQUE,
    approved_by  text,
    approved_at  timestamptz,
    completed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, month)
);

-- The close a line was frozen into; a line belongs to at most one close.
ALTER TABLE commission_lines ADD COLUMN close_id uuid REFERENCES closes (id);
CREATE INDEX commission_lines_close_idx ON commission_lines (close_id, partner_id);
CREATE INDEX commission_lines_open_idx ON commission_lines (program_id, occurred_at) WHERE close_id IS NULL AND status = 'payable';

-- Statements are derived from the frozen lines (and the previous close's carry-over),
-- so recomputing a close gives the same numbers.
CREATE TABLE statements (
    id           uuid PRIMARY KEY,
    close_id     uuid NOT NULL REFERENCES closes (id),
    partner_id   uuid NOT NULL REFERENCES partners (id),
    currency     char(3) NOT NULL,
    carried_in   numeric(14, 2) NOT NULL,
    commissions  numeric(14, 2) NOT NULL,
    deal_margins numeric(14, 2) NOT NULL,
    mdf          numeric(14, 2) NOT NULL,
    clawbacks    numeric(14, 2) NOT NULL,
    adjustments  numeric(14, 2) NOT NULL,
    total        numeric(14, 2) NOT NULL,
    payable      numeric(14, 2) NOT NULL, -- the total when it reaches the payout minimum, else 0
    carried_out  numeric(14, 2) NOT NULL, -- what moves to the next close
    lines        integer NOT NULL,
    UNIQUE (close_id, partner_id)
);

CREATE TABLE payouts (
    id           uuid PRIMARY KEY,
    close_id     uuid NOT NULL REFERENCES closes (id),
    partner_id   uuid NOT NULL REFERENCES partners (id),
    amount       numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency     char(3) NOT NULL,
    provider     text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'submitted', 'paid', 'failed')),
    provider_ref text,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    workflow_id  text NOT NULL UNIQUE,
    paid_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (close_id, partner_id)
);

-- +goose Down
DROP TABLE payouts, statements;
ALTER TABLE commission_lines DROP COLUMN close_id;
DROP TABLE closes;
ALTER TABLE partners DROP COLUMN payout_details;
ALTER TABLE programs DROP COLUMN payout_minimum, DROP COLUMN payout_provider, DROP COLUMN close_day;
