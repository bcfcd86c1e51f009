-- +goose Up
-- Market development funds: per-partner quarterly allocations, a double-entry
-- ledger (balanced and append-only, enforced here), requests with their proof files.

ALTER TABLE programs
    ADD COLUMN mdf_approval_sla_hours integer NOT NULL DEFAULT 120 CHECK (mdf_approval_sla_hours BETWEEN 1 AND 8760),
    ADD COLUMN mdf_claim_window_days integer NOT NULL DEFAULT 30 CHECK (mdf_claim_window_days BETWEEN 1 AND 365),
    ADD COLUMN mdf_proof_window_days integer NOT NULL DEFAULT 14 CHECK (mdf_proof_window_days BETWEEN 1 AND 365),
    ADD COLUMN mdf_grace_days integer NOT NULL DEFAULT 0 CHECK (mdf_grace_days BETWEEN 0 AND 365);

CREATE TABLE mdf_allocations (
    partner_id  uuid NOT NULL REFERENCES partners (id),
    quarter     text NOT NULL CHECK (quarter ~ '^[0-9]{4}-Q[1-4]$'),
    program_id  uuid NOT NULL REFERENCES programs (id),
    currency    char(3) NOT NULL,
    workflow_id text NOT NULL,
    expired_at  timestamptz, -- set when unused funds expired; later releases go to expired
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, quarter)
);

CREATE TABLE ledger_entries (
    id             bigserial PRIMARY KEY,
    entry_key      text NOT NULL UNIQUE, -- a retried activity posts once
    kind           text NOT NULL,
    partner_id     uuid NOT NULL REFERENCES partners (id),
    quarter        text NOT NULL,
    mdf_request_id uuid,
    memo           text NOT NULL DEFAULT '',
    occurred_at    timestamptz NOT NULL
);

CREATE TABLE ledger_postings (
    id         bigserial PRIMARY KEY,
    entry_id   bigint NOT NULL REFERENCES ledger_entries (id),
    account    text NOT NULL,
    partner_id uuid NOT NULL,
    quarter    text NOT NULL,
    amount     numeric(14, 2) NOT NULL CHECK (amount <> 0),
    currency   char(3) NOT NULL
);
CREATE INDEX ledger_postings_balance_idx ON ledger_postings (partner_id, quarter, account);
CREATE INDEX ledger_postings_entry_idx ON ledger_postings (entry_id);

-- Every entry balances: checked at commit, so an entry's postings may be inserted one by one.
-- +goose StatementBegin
CREATE FUNCTION ledger_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE entry_id = NEW.entry_id) <> 0 THEN
        RAISE EXCEPTION 'ledger entry % does not balance', NEW.entry_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER ledger_postings_balance AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balances();

-- Money is append-only: corrections are new entries, never edits.
-- +goose StatementBegin
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings FOR EACH ROW EXECUTE FUNCTION append_only();

CREATE TABLE mdf_requests (
    id                uuid PRIMARY KEY,
    program_id        uuid NOT NULL REFERENCES programs (id),
    partner_id        uuid NOT NULL REFERENCES partners (id),
    tier_id           uuid NOT NULL REFERENCES tiers (id),
    quarter           text NOT NULL,
    activity_type     text NOT NULL CHECK (activity_type IN ('event', 'digital_ads', 'content', 'webinar', 'tradeshow', 'other')),
    description       text NOT NULL,
    start_date        date NOT NULL,
    end_date          date NOT NULL CHECK (end_date >= start_date),
    requested_amount  numeric(14, 2) NOT NULL CHECK (requested_amount > 0),
    approved_amount   numeric(14, 2),
    claimed_amount    numeric(14, 2),
    reimbursed_amount numeric(14, 2),
    currency          char(3) NOT NULL,
    expected_outcomes jsonb NOT NULL DEFAULT '{}',
    results           jsonb,
    status            text NOT NULL CHECK (status IN ('pending_approval', 'approved', 'claimed', 'pending_proof', 'reimbursable', 'rejected', 'claim_rejected', 'withdrawn', 'expired')),
    claim_deadline    timestamptz,
    proof_deadline    timestamptz,
    close_reason      text,
    workflow_id       text NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mdf_requests_partner_idx ON mdf_requests (partner_id, id);

CREATE TABLE mdf_files (
    id           uuid PRIMARY KEY,
    request_id   uuid NOT NULL REFERENCES mdf_requests (id),
    name         text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    sha256       text NOT NULL,
    storage_key  text NOT NULL,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mdf_files_request_idx ON mdf_files (request_id);

CREATE TABLE mdf_events (
    id          bigserial PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES mdf_requests (id),
    event_key   text NOT NULL UNIQUE,
    kind        text NOT NULL,
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX mdf_events_request_idx ON mdf_events (request_id, id);

-- +goose Down
DROP TABLE mdf_events, mdf_files, mdf_requests, ledger_postings, ledger_entries, mdf_allocations;
DROP FUNCTION ledger_entry_balances, append_only;
ALTER TABLE programs DROP COLUMN mdf_approval_sla_hours, DROP COLUMN mdf_claim_window_days,
    DROP COLUMN mdf_proof_window_days, DROP COLUMN mdf_grace_days;
