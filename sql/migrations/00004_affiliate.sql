-- +goose Up
-- Affiliate tracking: links and coupons, time-partitioned clicks, conversions with
-- their attribution, customer bindings, commission rules, and the commission lines
-- they create (held, pending, payable, paid, void).

ALTER TABLE programs
    ADD COLUMN allowed_domains text[] NOT NULL DEFAULT '{}', -- link destinations must be on these (or their subdomains)
    ADD COLUMN fallback_url text,                              -- where an unknown or disabled code goes (else 404)
    ADD COLUMN attribution_model text NOT NULL DEFAULT 'last_click' CHECK (attribution_model IN ('last_click', 'first_click')),
    ADD COLUMN cookie_window_days integer NOT NULL DEFAULT 30 CHECK (cookie_window_days BETWEEN 1 AND 365),
    ADD COLUMN holding_days integer NOT NULL DEFAULT 30 CHECK (holding_days BETWEEN 0 AND 365),
    ADD COLUMN conversion_review_sla_hours integer NOT NULL DEFAULT 48 CHECK (conversion_review_sla_hours BETWEEN 1 AND 8760),
    ADD COLUMN signing_secrets text[] NOT NULL DEFAULT '{}'; -- HMAC secrets for signed conversions (several: rotation)

ALTER TABLE partners ADD COLUMN last_ip_hash bytea; -- where the partner last used the API from (self-referral)

CREATE TABLE links (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    program_id  uuid NOT NULL REFERENCES programs (id),
    partner_id  uuid NOT NULL REFERENCES partners (id),
    destination text NOT NULL,
    sub_id      text NOT NULL DEFAULT '',
    disabled_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX links_updated_idx ON links (updated_at);
CREATE INDEX links_partner_idx ON links (partner_id, id);

CREATE TABLE coupons (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE, -- upper case; never reused, even when disabled
    program_id  uuid NOT NULL REFERENCES programs (id),
    partner_id  uuid NOT NULL REFERENCES partners (id),
    disabled_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Clicks arrive in batches by COPY; monthly partitions are created ahead of time
-- (EnsureClickPartitions at start), and a default partition catches the rest.
CREATE TABLE clicks (
    id         uuid NOT NULL,
    link_id    uuid NOT NULL,
    partner_id uuid NOT NULL,
    program_id uuid NOT NULL,
    clicked_at timestamptz NOT NULL,
    ip_hash    bytea NOT NULL,   -- keyed hash: raw addresses are never stored
    user_agent text NOT NULL,
    referer    text NOT NULL,
    sub_id     text NOT NULL,
    bot        boolean NOT NULL,
    duplicate  boolean NOT NULL, -- same address and user agent on the same link within an hour
    malformed  boolean NOT NULL
) PARTITION BY RANGE (clicked_at);
CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;
CREATE INDEX clicks_link_time_idx ON clicks (link_id, clicked_at);
CREATE INDEX clicks_id_idx ON clicks (id);

-- +goose StatementBegin
CREATE FUNCTION ensure_click_partitions(months_ahead integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', now() - interval '1 month');
    name text;
BEGIN
    FOR i IN 0..months_ahead + 1 LOOP
        name := 'clicks_' || to_char(m, 'YYYY_MM');
        IF to_regclass(name) IS NULL THEN
            -- A month already caught by the default partition stays there.
            IF NOT EXISTS (SELECT 1 FROM clicks_default WHERE clicked_at >= m AND clicked_at < m + interval '1 month') THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF clicks FOR VALUES FROM (%L) TO (%L)', name, m, m + interval '1 month');
            END IF;
        END IF;
        m := m + interval '1 month';
    END LOOP;
END $$;
-- +goose StatementEnd
SELECT ensure_click_partitions(3);

CREATE TABLE conversions (
    id                  uuid PRIMARY KEY,
    program_id          uuid NOT NULL REFERENCES programs (id),
    external_id         text NOT NULL,
    request_hash        bytea NOT NULL, -- the same external_id with another body is a 409
    kind                text NOT NULL CHECK (kind IN ('lead', 'sale', 'subscription_payment', 'refund')),
    amount              numeric(14, 2) NOT NULL DEFAULT 0,
    currency            char(3) NOT NULL,
    order_id            text NOT NULL DEFAULT '',
    customer_ref        text NOT NULL DEFAULT '',
    customer_email      text NOT NULL DEFAULT '',
    customer_domain     text NOT NULL DEFAULT '',
    refund_of           uuid REFERENCES conversions (id),
    occurred_at         timestamptz NOT NULL,
    partner_id          uuid REFERENCES partners (id),
    link_id             uuid,
    click_id            uuid,
    attribution_method  text,
    unattributed_reason text,
    fraud_flags         text[] NOT NULL DEFAULT '{}',
    review_status       text CHECK (review_status IN ('pending', 'approved', 'rejected')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, external_id)
);
CREATE INDEX conversions_partner_time_idx ON conversions (partner_id, occurred_at);
CREATE INDEX conversions_order_idx ON conversions (program_id, order_id) WHERE order_id <> '';

CREATE TABLE customer_bindings (
    program_id   uuid NOT NULL REFERENCES programs (id),
    customer_ref text NOT NULL,
    partner_id   uuid NOT NULL REFERENCES partners (id),
    first_at     timestamptz NOT NULL,
    PRIMARY KEY (program_id, customer_ref)
);

CREATE TABLE commission_rules (
    id               uuid PRIMARY KEY,
    program_id       uuid NOT NULL REFERENCES programs (id),
    tier_id          uuid REFERENCES tiers (id),
    partner_id       uuid REFERENCES partners (id),
    event            text NOT NULL CHECK (event IN ('sale', 'lead')),
    kind             text NOT NULL CHECK (kind IN ('percent', 'flat')),
    rate             numeric(7, 4) NOT NULL DEFAULT 0 CHECK (rate >= 0 AND rate <= 1),
    amount           numeric(14, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    volume_tiers     jsonb NOT NULL DEFAULT '[]',
    recurring        text NOT NULL DEFAULT 'none' CHECK (recurring IN ('none', 'months', 'lifetime')),
    recurring_months integer NOT NULL DEFAULT 0,
    effective_from   timestamptz NOT NULL,
    effective_to     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (tier_id IS NOT NULL AND partner_id IS NOT NULL))
);
CREATE INDEX commission_rules_program_idx ON commission_rules (program_id, event);

ALTER TABLE commission_lines
    ADD COLUMN hold_until timestamptz,
    ADD COLUMN related_line_id uuid REFERENCES commission_lines (id),
    DROP CONSTRAINT commission_lines_status_check,
    ADD CONSTRAINT commission_lines_status_check CHECK (status IN ('held', 'pending', 'payable', 'paid', 'void'));

-- +goose Down
ALTER TABLE commission_lines DROP COLUMN hold_until, DROP COLUMN related_line_id;
DROP TABLE commission_rules, customer_bindings, conversions, clicks, coupons, links;
DROP FUNCTION ensure_click_partitions;
ALTER TABLE partners DROP COLUMN last_ip_hash;
ALTER TABLE programs DROP COLUMN allowed_domains, DROP COLUMN fallback_url, DROP COLUMN attribution_model,
    DROP COLUMN cookie_window_days, DROP COLUMN holding_days, DROP COLUMN conversion_review_sla_hours, DROP COLUMN signing_secrets;
