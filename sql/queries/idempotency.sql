-- name: ClaimIdempotencyKey :execrows
-- Inside the write's transaction: a concurrent request with the same key waits
-- here until the first commits (then sees its answer) or rolls back (then claims it).
-- A key older than 24 hours is expired: it is claimed again as if new.
INSERT INTO idempotency_keys (scope, key, request_hash, pending)
VALUES ($1, $2, $3, $4)
ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, pending = EXCLUDED.pending,
    status_code = 0, response_body = '', created_at = now()
WHERE idempotency_keys.created_at < now() - interval '24 hours';

-- name: GetIdempotencyKey :one
-- Keys live 24 hours (an expired one is as good as unknown, and swept hourly).
SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at >= now() - interval '24 hours';

-- name: SaveIdempotentResponse :exec
UPDATE idempotency_keys SET status_code = $3, response_body = $4, pending = NULL WHERE scope = $1 AND key = $2;

-- name: ReleaseIdempotencyKey :exec
-- A request that failed for a reason a retry may not meet again (the workflow
-- service was down) frees its key.
DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code = 0;

-- name: SweepIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours';
