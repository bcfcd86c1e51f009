-- +goose Up
-- The foundation: programs and their tiers, partners (an application is a partner
-- in review), API keys, idempotency keys, the partner's decision timeline and the
-- notification outbox.

CREATE TABLE programs (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind               text NOT NULL CHECK (kind IN ('affiliate', 'channel', 'hybrid')),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    review_sla_hours   integer NOT NULL DEFAULT 48 CHECK (review_sla_hours BETWEEN 1 AND 8760),
    agreement_version  text NOT NULL DEFAULT 'v1',
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX programs_name_key ON programs (lower(name));

CREATE TABLE tiers (
    id                        uuid PRIMARY KEY,
    program_id                uuid NOT NULL REFERENCES programs (id),
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    rank                      integer NOT NULL CHECK (rank BETWEEN 0 AND 1000),
    deal_protection_days      integer NOT NULL DEFAULT 90 CHECK (deal_protection_days BETWEEN 1 AND 3650),
    mdf_quarterly_allocation  numeric(14, 2) NOT NULL DEFAULT 0 CHECK (mdf_quarterly_allocation >= 0),
    default_margin            numeric(7, 4) NOT NULL DEFAULT 0 CHECK (default_margin >= 0 AND default_margin <= 1),
    required_certifications   text[] NOT NULL DEFAULT '{}',
    created_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, rank),
    UNIQUE (program_id, name)
);

-- Which certifications a partner type needs in a program, before tier-specific ones.
CREATE TABLE program_certifications (
    program_id    uuid NOT NULL REFERENCES programs (id),
    partner_type  text NOT NULL,
    certification text NOT NULL,
    PRIMARY KEY (program_id, partner_type, certification)
);

CREATE TABLE partners (
    id               uuid PRIMARY KEY,
    program_id       uuid NOT NULL REFERENCES programs (id),
    tier_id          uuid NOT NULL REFERENCES tiers (id),
    name             text NOT NULL,
    email            text NOT NULL,
    company          text NOT NULL,
    website_domain   text NOT NULL,
    partner_type     text NOT NULL CHECK (partner_type IN ('affiliate', 'creator', 'reseller', 'var', 'msp', 'si', 'isv', 'referral')),
    status           text NOT NULL CHECK (status IN ('pending_review', 'rejected', 'awaiting_agreement', 'awaiting_certification', 'active', 'lapsed')),
    workflow_id      text NOT NULL UNIQUE,
    agreement_version text,
    agreement_accepted_at timestamptz,
    decided_by       text,
    decided_at       timestamptz,
    reject_reason    text,
    activated_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One open application per e-mail and program: a rejected applicant may apply again.
CREATE UNIQUE INDEX partners_open_application_key ON partners (program_id, lower(email)) WHERE status <> 'rejected';
CREATE INDEX partners_status_idx ON partners (status, id);

CREATE TABLE certifications (
    id            uuid PRIMARY KEY,
    partner_id    uuid NOT NULL REFERENCES partners (id),
    name          text NOT NULL,
    passed_at     date NOT NULL,
    expires_at    date NOT NULL,
    recorded_by   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > passed_at),
    UNIQUE (partner_id, name, expires_at)
);

-- The decision timeline of a partner: who did what, when and why. Written by the workflow.
CREATE TABLE partner_events (
    id          bigserial PRIMARY KEY,
    partner_id  uuid NOT NULL REFERENCES partners (id),
    event_key   text NOT NULL UNIQUE, -- makes the recording activity idempotent
    kind        text NOT NULL,
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX partner_events_partner_idx ON partner_events (partner_id, id);

-- The outbox: reminders and escalations, delivered as webhooks and e-mail by a later piece.
CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    dedupe_key   text NOT NULL UNIQUE,
    kind         text NOT NULL,
    recipient    text NOT NULL, -- a role ('manager') or a partner id
    subject_type text NOT NULL,
    subject_id   uuid NOT NULL,
    message      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX notifications_subject_idx ON notifications (subject_type, subject_id, id);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    prefix      text NOT NULL UNIQUE, -- the readable, non-secret part, e.g. pok_live_ab12cd34
    secret_hash bytea NOT NULL,       -- SHA-256 of the whole key; the key itself is never stored
    role        text NOT NULL CHECK (role IN ('admin', 'manager', 'finance', 'partner', 'integration')),
    partner_id  uuid REFERENCES partners (id),
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((role = 'partner') = (partner_id IS NOT NULL))
);

CREATE TABLE idempotency_keys (
    scope         text NOT NULL, -- the caller (API key id or client address) and the route
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status_code   integer NOT NULL DEFAULT 0,
    response_body bytea NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- +goose Down
DROP TABLE idempotency_keys, api_keys, notifications, partner_events, certifications, partners,
    program_certifications, tiers, programs;
