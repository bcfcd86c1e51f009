-- name: CreateWebhookEndpoint :one
INSERT INTO webhook_endpoints (id, program_id, partner_id, url, event_types, secrets, description, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: GetWebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE id = $1;

-- name: ListWebhookEndpoints :many
-- A partner's own (partner_id set), or a program's / every one (staff).
SELECT * FROM webhook_endpoints
WHERE (sqlc.narg('partner_id')::uuid IS NULL OR partner_id = sqlc.narg('partner_id')::uuid)
  AND (sqlc.narg('program_id')::uuid IS NULL OR program_id = sqlc.narg('program_id')::uuid)
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id LIMIT sqlc.arg('lim');

-- name: DisableWebhookEndpoint :exec
UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = sqlc.arg(reason)::text
WHERE id = $1 AND disabled_at IS NULL;

-- name: EnqueueWebhookDeliveries :many
-- One delivery per enabled endpoint that wants the event: the program's own
-- endpoints get every event, a partner's endpoints its own events.
INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload)
SELECT gen_random_uuid(), e.id, sqlc.arg(event_id)::uuid, sqlc.arg(event_type)::text, sqlc.arg(payload)::jsonb
FROM webhook_endpoints e
WHERE e.program_id = sqlc.arg(program_id)::uuid AND e.disabled_at IS NULL
  AND (e.partner_id IS NULL OR e.partner_id = sqlc.narg(partner_id)::uuid)
  AND (cardinality(e.event_types) = 0 OR sqlc.arg(event_type)::text = ANY (e.event_types))
ON CONFLICT (endpoint_id, event_id) DO NOTHING
RETURNING id;

-- name: GetWebhookDelivery :one
SELECT d.*, e.url, e.secrets, e.disabled_at AS endpoint_disabled_at, e.partner_id, e.program_id
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.id = $1;

-- name: StartWebhookRun :one
-- A new run of the delivery (the first, or a replay): pending again. Answers the
-- run, and the event type and endpoint for the workflow's summary.
UPDATE webhook_deliveries d SET runs = d.runs + 1, started_at = now(), status = 'pending'
FROM webhook_endpoints e
WHERE d.id = $1 AND e.id = d.endpoint_id
RETURNING d.runs, d.event_type, e.url;

-- name: RecordWebhookAttempt :exec
WITH a AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, run, at, status_code, error, duration_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT DO NOTHING
)
UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $5, last_error = $6 WHERE id = $1;

-- name: MarkWebhookDelivered :exec
WITH d AS (
    UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now() WHERE webhook_deliveries.id = $1 RETURNING endpoint_id
)
UPDATE webhook_endpoints SET last_success_at = now() WHERE webhook_endpoints.id = (SELECT endpoint_id FROM d);

-- name: MarkWebhookFailed :exec
UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1 AND status = 'pending';

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE endpoint_id = $1 AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id LIMIT sqlc.arg('lim');

-- name: ListWebhookAttempts :many
SELECT * FROM webhook_attempts WHERE delivery_id = ANY (sqlc.arg(ids)::uuid[]) ORDER BY delivery_id, run, attempt;

-- name: UnstartedWebhookDeliveries :many
-- Deliveries whose workflow did not start right after their event (the sweep's work).
SELECT id FROM webhook_deliveries WHERE started_at IS NULL ORDER BY created_at LIMIT 500;

-- name: WebhookDeliveryCountsByStatus :many
SELECT status, count(*)::bigint AS n FROM webhook_deliveries GROUP BY status;

-- name: RotateWebhookSecret :one
-- The new secret first; the newest previous one stays valid until the next rotation.
UPDATE webhook_endpoints SET secrets = ARRAY[sqlc.arg(secret)::text] || secrets[1:1]
WHERE id = sqlc.arg(id)::uuid AND disabled_at IS NULL
RETURNING *;
