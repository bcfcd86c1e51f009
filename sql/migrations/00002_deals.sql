-- +goose Up
-- Deal registration: the vendor's existing customers, deals with their decision
-- timeline, and the append-only money lines that the commission close pays.

ALTER TABLE programs
    ADD COLUMN deal_approval_sla_hours integer NOT NULL DEFAULT 48 CHECK (deal_approval_sla_hours BETWEEN 1 AND 8760),
    ADD COLUMN deal_auto_decision text NOT NULL DEFAULT 'none' CHECK (deal_auto_decision IN ('none', 'approve', 'reject')),
    ADD COLUMN deal_max_extensions integer NOT NULL DEFAULT 1 CHECK (deal_max_extensions BETWEEN 0 AND 10),
    ADD COLUMN deal_extension_days integer NOT NULL DEFAULT 30 CHECK (deal_extension_days BETWEEN 1 AND 365),
    -- Stages a deal moves through before won/lost, each with its win probability.
    ADD COLUMN deal_stages jsonb NOT NULL DEFAULT '[{"name":"registered","probability":"0.10"},{"name":"qualified","probability":"0.25"},{"name":"proposal","probability":"0.50"},{"name":"negotiation","probability":"0.75"}]';

CREATE TABLE customers (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    name_normalized text NOT NULL,
    domain          text NOT NULL UNIQUE, -- registrable domain (eTLD+1)
    country         char(2) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_name_idx ON customers (name_normalized, country);

CREATE TABLE deals (
    id                  uuid PRIMARY KEY,
    program_id          uuid NOT NULL REFERENCES programs (id),
    partner_id          uuid NOT NULL REFERENCES partners (id),
    tier_id             uuid NOT NULL REFERENCES tiers (id),
    customer_name       text NOT NULL,
    customer_name_normalized text NOT NULL,
    customer_domain     text NOT NULL, -- registrable domain (eTLD+1): subdomains match their parent
    country             char(2) NOT NULL,
    contact_name        text NOT NULL,
    contact_email       text NOT NULL,
    estimated_value     numeric(14, 2) NOT NULL CHECK (estimated_value > 0),
    currency            char(3) NOT NULL,
    products            text[] NOT NULL,
    expected_close_date date NOT NULL,
    notes               text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('pending_approval', 'rejected', 'approved', 'expired', 'won', 'lost')),
    stage               text NOT NULL,
    margin              numeric(7, 4) CHECK (margin >= 0 AND margin <= 1), -- negotiated; null: the tier's default
    protected_until     timestamptz,
    extensions_used     integer NOT NULL DEFAULT 0,
    final_amount        numeric(14, 2),
    close_reason        text,
    conflicts           jsonb NOT NULL DEFAULT '[]', -- near matches found at registration, for the approver
    workflow_id         text NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- First approved registration wins: at most one protected deal per customer.
CREATE UNIQUE INDEX deals_one_protected_per_customer ON deals (customer_domain) WHERE status = 'approved';
CREATE INDEX deals_partner_idx ON deals (partner_id, id);
CREATE INDEX deals_open_name_idx ON deals (customer_name_normalized, country) WHERE status IN ('pending_approval', 'approved');
CREATE INDEX deals_open_domain_idx ON deals (customer_domain) WHERE status IN ('pending_approval', 'approved');

CREATE TABLE deal_events (
    id          bigserial PRIMARY KEY,
    deal_id     uuid NOT NULL REFERENCES deals (id),
    event_key   text NOT NULL UNIQUE,
    kind        text NOT NULL,
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX deal_events_deal_idx ON deal_events (deal_id, id);

-- Money owed to partners. Append-only: an amount is never edited; corrections are
-- new lines (void, clawback, adjustment). Status moves pending → payable → paid.
CREATE TABLE commission_lines (
    id          uuid PRIMARY KEY,
    program_id  uuid NOT NULL REFERENCES programs (id),
    partner_id  uuid NOT NULL REFERENCES partners (id),
    kind        text NOT NULL CHECK (kind IN ('commission', 'deal_margin', 'mdf_reimbursement', 'clawback', 'adjustment')),
    source_type text NOT NULL, -- conversion, deal, mdf_request, close
    source_id   uuid NOT NULL,
    amount      numeric(14, 2) NOT NULL,
    currency    char(3) NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'payable', 'paid', 'void')),
    description text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    dedupe_key  text NOT NULL UNIQUE, -- e.g. deal/<id>/margin: a retried activity cannot create a second line
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commission_lines_partner_idx ON commission_lines (partner_id, occurred_at);

-- +goose Down
DROP TABLE commission_lines, deal_events, deals, customers;
ALTER TABLE programs DROP COLUMN deal_approval_sla_hours, DROP COLUMN deal_auto_decision,
    DROP COLUMN deal_max_extensions, DROP COLUMN deal_extension_days, DROP COLUMN deal_stages;
