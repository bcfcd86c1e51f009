-- name: RecordAuditEvent :exec
INSERT INTO audit_events (id, actor, action, record_type, record_id, outcome, reason, detail, request_id)
VALUES (@id, @actor, @action, @record_type, @record_id, @outcome, @reason, @detail, @request_id);

-- name: ListAuditEvents :many
-- Newest first; ids are UUIDv7, so they order by time.
SELECT * FROM audit_events
WHERE (sqlc.narg('record_type')::text IS NULL OR record_type = sqlc.narg('record_type'))
  AND (sqlc.narg('record_id')::uuid IS NULL OR record_id = sqlc.narg('record_id'))
  AND (sqlc.narg('actor')::text IS NULL OR actor = sqlc.narg('actor'))
  AND (sqlc.narg('action')::text IS NULL OR action = sqlc.narg('action'))
  AND (sqlc.narg('after')::uuid IS NULL OR id < sqlc.narg('after'))
ORDER BY id DESC
LIMIT @lim;
