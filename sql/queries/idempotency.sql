-- name: ClaimIdempotencyKey :execrows
-- Inside the write's transaction: a concurrent request with the same key waits
-- here until the first commits (then sees its answer) or rolls back (then claims it).
INSERT INTO idempotency_keys (scope, key, request_hash, pending)
VALUES ($1, $2, $3, $4)
ON CONFLICT (scope, key) DO NOTHING;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2;

-- name: SaveIdempotentResponse :exec
UPDATE idempotency_keys SET status_code = $3, response_body = $4, pending = NULL WHERE scope = $1 AND key = $2;

-- name: ReleaseIdempotencyKey :exec
-- A request that failed for a reason a retry may not meet again (the workflow
-- service was down) frees its key.
DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code = 0;
