-- +goose Up
-- Tiers that move: what a tier asks of its partners over the trailing twelve
-- months (NULL: nothing), and how long a partner that falls short keeps its tier.
ALTER TABLE tiers
    ADD COLUMN min_won_revenue numeric(14,2) CHECK (min_won_revenue >= 0),       -- closed-won deal revenue
    ADD COLUMN min_affiliate_revenue numeric(14,2) CHECK (min_affiliate_revenue >= 0); -- attributed sales, refunds netted
ALTER TABLE programs
    ADD COLUMN tier_review_grace_days integer NOT NULL DEFAULT 90 CHECK (tier_review_grace_days BETWEEN 0 AND 365);

-- +goose Down
ALTER TABLE programs DROP COLUMN tier_review_grace_days;
ALTER TABLE tiers DROP COLUMN min_affiliate_revenue, DROP COLUMN min_won_revenue;
