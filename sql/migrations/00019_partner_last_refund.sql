-- +goose Up
-- When a partner's last refund was recorded: every API replica caches a
-- partner's 90-day refund rate for a minute, and counts it again once the
-- partner (itself cached 5 s) shows a refund newer than its count. Nullable:
-- the previous release keeps working on this schema while it drains.
ALTER TABLE partners ADD COLUMN last_refund_at timestamptz;

-- +goose Down
ALTER TABLE partners DROP COLUMN last_refund_at;
