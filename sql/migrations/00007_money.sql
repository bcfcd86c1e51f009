-- +goose Up
-- Money that is right: a statement is the set of lines it holds — its close's own
-- lines (commission_lines.close_id) and the unpaid lines its partner's previous
-- statement carried (recorded here) — so a payout marks exactly those lines paid
-- whichever close first froze them, and a carried balance is lines, not a frozen
-- number. Only carried lines get rows: a close of a million lines writes none.
CREATE TABLE statement_lines (
    close_id   uuid NOT NULL REFERENCES closes (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    line_id    uuid NOT NULL REFERENCES commission_lines (id),
    carried    boolean NOT NULL, -- true: frozen by an earlier close and carried into this one
    PRIMARY KEY (close_id, line_id)
);
CREATE INDEX statement_lines_line_idx ON statement_lines (line_id);
CREATE INDEX statement_lines_partner_idx ON statement_lines (close_id, partner_id);

-- Every line a statement holds: its close's own and the carried ones.
CREATE VIEW statement_members AS
    SELECT l.close_id, l.partner_id, l.id AS line_id, false AS carried FROM commission_lines l WHERE l.close_id IS NOT NULL
    UNION ALL
    SELECT sl.close_id, sl.partner_id, sl.line_id, true FROM statement_lines sl;

-- Why a statement pays nothing now (below the minimum, owes money, no payout details).
ALTER TABLE statements ADD COLUMN carried_reason text NOT NULL DEFAULT '';

-- An MDF request reaches its final state when the payout carrying it is paid.
ALTER TABLE mdf_requests DROP CONSTRAINT mdf_requests_status_check;
ALTER TABLE mdf_requests ADD CONSTRAINT mdf_requests_status_check CHECK (status IN ('pending_approval', 'approved', 'claimed',
    'pending_proof', 'reimbursable', 'reimbursed', 'rejected', 'claim_rejected', 'withdrawn', 'expired'));

-- Where a partner is paid, and since when (a change holds the next payout for review).
-- (payout_details, a free text no endpoint ever set, gives way to them.)
ALTER TABLE partners DROP COLUMN payout_details,
    ADD COLUMN payout_method text CHECK (payout_method IN ('bank', 'paypal', 'provider')),
    ADD COLUMN payout_destination text,
    ADD COLUMN payout_holder text,
    ADD COLUMN payout_details_changed_at timestamptz,
    ADD COLUMN payout_details_confirmed_at timestamptz;

-- Closed-won is the vendor's word: a partner reports won, a manager confirms (or a
-- program auto-confirms up to a percentage over the estimate); the deal stays
-- protected meanwhile.
ALTER TABLE deals DROP CONSTRAINT deals_status_check;
ALTER TABLE deals ADD CONSTRAINT deals_status_check CHECK (status IN ('pending_approval', 'rejected', 'approved', 'won_reported', 'expired', 'won', 'lost'));
ALTER TABLE deals ADD COLUMN reported_amount numeric(14, 2);
DROP INDEX deals_one_protected_per_customer;
CREATE UNIQUE INDEX deals_one_protected_per_customer ON deals (customer_domain) WHERE status IN ('approved', 'won_reported');
DROP INDEX deals_open_name_idx;
DROP INDEX deals_open_domain_idx;
CREATE INDEX deals_open_name_idx ON deals (customer_name_normalized, country) WHERE status IN ('pending_approval', 'approved', 'won_reported');
CREATE INDEX deals_open_domain_idx ON deals (customer_domain) WHERE status IN ('pending_approval', 'approved', 'won_reported');
ALTER TABLE programs ADD COLUMN deal_won_auto_confirm_percent numeric(5, 2) CHECK (deal_won_auto_confirm_percent BETWEEN 0 AND 100);

-- +goose Down
ALTER TABLE programs DROP COLUMN deal_won_auto_confirm_percent;
DROP INDEX deals_one_protected_per_customer;
CREATE UNIQUE INDEX deals_one_protected_per_customer ON deals (customer_domain) WHERE status = 'approved';
DROP INDEX deals_open_name_idx;
DROP INDEX deals_open_domain_idx;
CREATE INDEX deals_open_name_idx ON deals (customer_name_normalized, country) WHERE status IN ('pending_approval', 'approved');
CREATE INDEX deals_open_domain_idx ON deals (customer_domain) WHERE status IN ('pending_approval', 'approved');
ALTER TABLE deals DROP COLUMN reported_amount;
ALTER TABLE deals DROP CONSTRAINT deals_status_check;
ALTER TABLE deals ADD CONSTRAINT deals_status_check CHECK (status IN ('pending_approval', 'rejected', 'approved', 'expired', 'won', 'lost'));
ALTER TABLE partners DROP COLUMN payout_method, DROP COLUMN payout_destination, DROP COLUMN payout_holder,
    DROP COLUMN payout_details_changed_at, DROP COLUMN payout_details_confirmed_at,
    ADD COLUMN payout_details text NOT NULL DEFAULT '';
ALTER TABLE mdf_requests DROP CONSTRAINT mdf_requests_status_check;
ALTER TABLE mdf_requests ADD CONSTRAINT mdf_requests_status_check CHECK (status IN ('pending_approval', 'approved', 'claimed',
    'pending_proof', 'reimbursable', 'rejected', 'claim_rejected', 'withdrawn', 'expired'));
ALTER TABLE statements DROP COLUMN carried_reason;
DROP VIEW statement_members;
DROP TABLE statement_lines;
