-- name: CreateNotification :exec
INSERT INTO notifications (dedupe_key, kind, recipient, subject_type, subject_id, message)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: ListNotifications :many
SELECT * FROM notifications WHERE subject_type = $1 AND subject_id = $2 ORDER BY id;

-- name: CountNotifications :one
SELECT count(*)::bigint FROM notifications;
