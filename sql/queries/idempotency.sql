-- name: ClaimIdempotencyKey :execrows
-- Inside the write's transaction: a concurrent request with the same key waits
-- here until the first commits (then sees its answer) or rolls back (then claims it).
INSERT INTO idempotency_keys (scope, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (scope, key) DO NOTHING;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2;

-- name: SaveIdempotentResponse :exec
UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE scope = $1 AND key = $2;
