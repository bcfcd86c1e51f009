-- name: CreateNotification :exec
INSERT INTO notifications (dedupe_key, kind, recipient, subject_type, subject_id, message)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: CountNotifications :one
SELECT count(*)::bigint FROM notifications;

-- name: ListNotifications :many
-- Newest first; recipient is a partner id or a role (NULL: every recipient).
SELECT * FROM notifications
WHERE (sqlc.narg('recipient')::text IS NULL OR recipient = sqlc.narg('recipient')::text)
  AND (sqlc.narg('before')::bigint IS NULL OR id < sqlc.narg('before')::bigint)
ORDER BY id DESC
LIMIT sqlc.arg('lim');
