-- +goose Up
-- Payout details are versioned: a partner's change is a new row, never an edit,
-- and a payout names the version it pays. The first version a partner gives is
-- confirmed as given (nothing is redirected); every later one waits for finance,
-- and no payout is sent to a version finance has not confirmed.
CREATE TABLE payout_details (
    id           uuid PRIMARY KEY,
    partner_id   uuid NOT NULL REFERENCES partners (id),
    version      integer NOT NULL CHECK (version > 0),
    method       text NOT NULL CHECK (method IN ('bank', 'paypal', 'provider')),
    holder       text NOT NULL DEFAULT '',
    destination  text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_by text,
    confirmed_at timestamptz,
    UNIQUE (partner_id, version),
    CHECK ((confirmed_by IS NULL) = (confirmed_at IS NULL))
);

INSERT INTO payout_details (id, partner_id, version, method, holder, destination, created_by, created_at, confirmed_by, confirmed_at)
SELECT gen_random_uuid(), p.id, 1, p.payout_method, coalesce(p.payout_holder, ''), coalesce(p.payout_destination, ''), 'partner',
       coalesce(p.payout_details_changed_at, p.updated_at),
       CASE WHEN confirmed THEN 'migration' END, CASE WHEN confirmed THEN coalesce(p.payout_details_confirmed_at, p.updated_at) END
FROM partners p, LATERAL (SELECT p.payout_details_changed_at IS NULL OR p.payout_details_confirmed_at >= p.payout_details_changed_at AS confirmed) c
WHERE p.payout_method IS NOT NULL;

ALTER TABLE partners DROP COLUMN payout_method, DROP COLUMN payout_destination, DROP COLUMN payout_holder,
    DROP COLUMN payout_details_changed_at, DROP COLUMN payout_details_confirmed_at;

-- A payout pays one version (set when it is prepared for sending, from the
-- latest version once finance has confirmed it), or is held until finance does.
ALTER TABLE payouts ADD COLUMN payout_details_id uuid REFERENCES payout_details (id),
    ADD COLUMN held_reason text;
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'held', 'submitted', 'paid', 'failed'));
CREATE INDEX payouts_held_idx ON payouts (partner_id) WHERE status = 'held';

-- What a close's statements were computed from, so an audit recomputes them as
-- the close held them (not from today's minimum or payout details).
ALTER TABLE closes ADD COLUMN computed_at timestamptz, ADD COLUMN payout_minimum numeric(14, 2);
UPDATE closes c SET computed_at = coalesce(c.approved_at, c.created_at), payout_minimum = p.payout_minimum FROM programs p WHERE p.id = c.program_id;

-- +goose Down
ALTER TABLE closes DROP COLUMN computed_at, DROP COLUMN payout_minimum;
DROP INDEX payouts_held_idx;
UPDATE payouts SET status = 'pending' WHERE status = 'held';
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'submitted', 'paid', 'failed'));
ALTER TABLE payouts DROP COLUMN payout_details_id, DROP COLUMN held_reason;
ALTER TABLE partners ADD COLUMN payout_method text CHECK (payout_method IN ('bank', 'paypal', 'provider')),
    ADD COLUMN payout_destination text,
    ADD COLUMN payout_holder text,
    ADD COLUMN payout_details_changed_at timestamptz,
    ADD COLUMN payout_details_confirmed_at timestamptz;
UPDATE partners p SET payout_method = d.method, payout_destination = d.destination, payout_holder = d.holder,
    payout_details_changed_at = CASE WHEN d.version > 1 THEN d.created_at END, payout_details_confirmed_at = d.confirmed_at
FROM (SELECT DISTINCT ON (partner_id) * FROM payout_details ORDER BY partner_id, version DESC) d WHERE d.partner_id = p.id;
DROP TABLE payout_details;
