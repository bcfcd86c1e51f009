-- name: CreateAPIKey :one
INSERT INTO api_keys (id, prefix, secret_hash, role, partner_id, label)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, prefix, role, partner_id, label, created_at, revoked_at;

-- name: GetAPIKeyByPrefix :one
SELECT * FROM api_keys WHERE prefix = $1;

-- name: GetAPIKey :one
SELECT id, prefix, role, partner_id, label, created_at, revoked_at FROM api_keys WHERE id = $1;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL;

-- name: CreatePendingAPIKey :one
-- A partner's first key, inactive until the approval that names it is recorded.
INSERT INTO api_keys (id, prefix, secret_hash, role, partner_id, label, activated_at)
VALUES ($1, $2, $3, 'partner', $4, $5, NULL)
RETURNING id, prefix, role, partner_id, label, created_at, revoked_at;

-- name: ActivateAPIKey :execrows
UPDATE api_keys SET activated_at = COALESCE(activated_at, @at::timestamptz)
WHERE id = @id AND partner_id = @partner_id AND revoked_at IS NULL;

-- name: DeletePendingAPIKey :exec
DELETE FROM api_keys WHERE id = $1 AND activated_at IS NULL;
