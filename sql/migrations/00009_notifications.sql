-- +goose Up
-- Notifications are read through the API: a partner its own, newest first.
CREATE INDEX notifications_recipient_idx ON notifications (recipient, id);

-- +goose Down
DROP INDEX notifications_recipient_idx;
