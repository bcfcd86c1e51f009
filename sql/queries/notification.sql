-- name: CreateNotification :exec
INSERT INTO notifications (dedupe_key, kind, recipient, subject_type, subject_id, message)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: CountNotifications :one
SELECT count(*)::bigint FROM notifications;
