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
