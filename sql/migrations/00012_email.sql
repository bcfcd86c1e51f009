-- +goose Up
-- Which notifications a partner does not want by e-mail (kinds without their
-- sequence number, e.g. deal_won_rejected); everything else is mailed.
ALTER TABLE partners ADD COLUMN email_muted text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE partners DROP COLUMN email_muted;
