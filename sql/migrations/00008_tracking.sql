-- +goose Up
-- Tracking a merchant can install: the redirect appends a short click id under a
-- parameter each program names, and a program may serve its clicks from its own
-- tracking domain (go.merchant.example CNAMEd to partnerops), where the click
-- cookie is set for the merchant's registrable domain.
ALTER TABLE programs
    ADD COLUMN click_id_param text NOT NULL DEFAULT 'po_click_id'
        CHECK (click_id_param ~ '^[A-Za-z][A-Za-z0-9_]{0,31}$'),
    ADD COLUMN tracking_domain text
        CHECK (tracking_domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$' AND length(tracking_domain) <= 253);
CREATE UNIQUE INDEX programs_tracking_domain_key ON programs (tracking_domain);
-- The click cache pages through links by (updated_at, id).
DROP INDEX links_updated_idx;
CREATE INDEX links_updated_idx ON links (updated_at, id);

-- +goose Down
DROP INDEX links_updated_idx;
CREATE INDEX links_updated_idx ON links (updated_at);
DROP INDEX programs_tracking_domain_key;
ALTER TABLE programs DROP COLUMN tracking_domain, DROP COLUMN click_id_param;
