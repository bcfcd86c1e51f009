-- name: CountAuthFailure :one
-- Counts one failed authentication of who in the minute starting at
-- window_start, and returns it with the count of the minute before
-- (previous_start), for a sliding-window estimate.
WITH counted AS (
    INSERT INTO auth_failures (who, window_start, failures) VALUES (sqlc.arg(who), sqlc.arg(window_start), 1)
    ON CONFLICT (who, window_start) DO UPDATE SET failures = auth_failures.failures + 1
    RETURNING failures
)
SELECT counted.failures AS current_failures,
       coalesce((SELECT f.failures FROM auth_failures f WHERE f.who = sqlc.arg(who) AND f.window_start = sqlc.arg(previous_start)), 0)::integer AS previous_failures
FROM counted;

-- name: SweepAuthFailures :execrows
DELETE FROM auth_failures WHERE window_start < now() - interval '1 hour';

-- name: LockPartnerMonth :exec
-- Serializes, across every API replica, the conversions that count a
-- partner's sales of a month (volume tiers): held until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended(sqlc.arg(lock_key)::text, 0));
