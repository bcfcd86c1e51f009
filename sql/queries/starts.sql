-- name: RecordWorkflowStart :execrows
-- A new request of a start under a workflow id already used (a joined close,
-- a payout retried again) replaces the old one: it is to be made again.
INSERT INTO workflow_starts (workflow_id, token, start) VALUES (@workflow_id, @token, @start)
ON CONFLICT (workflow_id) DO UPDATE SET token = EXCLUDED.token, start = EXCLUDED.start, created_at = now(),
    started_at = NULL, attempts = 0, last_error = NULL
WHERE workflow_starts.token <> EXCLUDED.token;

-- name: MarkWorkflowStarted :exec
UPDATE workflow_starts SET started_at = now(), last_error = NULL WHERE workflow_id = @workflow_id AND token = @token;

-- name: MarkWorkflowStartFailed :exec
UPDATE workflow_starts SET attempts = attempts + 1, last_error = @last_error WHERE workflow_id = @workflow_id AND token = @token AND started_at IS NULL;

-- name: UnstartedWorkflowStarts :many
-- Starts not made within the grace the process that recorded them had.
SELECT workflow_id, token, start, attempts FROM workflow_starts
WHERE started_at IS NULL AND created_at < @before
ORDER BY created_at
LIMIT @max_rows;

-- name: UnmadeWorkflowStarts :one
-- How many recorded starts are not made yet, and the age of the oldest.
SELECT count(*)::bigint AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age_seconds
FROM workflow_starts WHERE started_at IS NULL;

-- name: DeleteStartedWorkflowStarts :execrows
DELETE FROM workflow_starts WHERE started_at < now() - interval '7 days';

-- name: WorkflowStartPending :one
-- Whether a start of the workflow is recorded and not made yet.
SELECT EXISTS (SELECT 1 FROM workflow_starts WHERE workflow_id = @workflow_id AND started_at IS NULL);
