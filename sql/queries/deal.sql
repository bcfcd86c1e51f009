-- name: CreateDeal :one
INSERT INTO deals (id, program_id, partner_id, tier_id, customer_name, customer_name_normalized, customer_domain, country,
    contact_name, contact_email, estimated_value, currency, products, expected_close_date, notes, status, stage, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending_approval', $16, $17)
RETURNING *;

-- name: GetDeal :one
SELECT * FROM deals WHERE id = $1;

-- name: ListDeals :many
SELECT * FROM deals
WHERE (sqlc.narg('partner_id')::uuid IS NULL OR partner_id = sqlc.narg('partner_id')::uuid)
  AND (sqlc.narg('program_id')::uuid IS NULL OR program_id = sqlc.narg('program_id')::uuid)
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('stage')::text IS NULL OR stage = sqlc.narg('stage')::text)
  AND (sqlc.narg('expiring_before')::timestamptz IS NULL OR (status = 'approved' AND protected_until <= sqlc.narg('expiring_before')::timestamptz))
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id
LIMIT $1;

-- name: FindDealCandidates :many
-- Open or protected deals that could be the same customer; Go scores them.
SELECT id, partner_id, status, customer_name_normalized, customer_domain, country FROM deals
WHERE id <> sqlc.arg(id)
  AND status IN ('pending_approval', 'approved', 'won_reported')
  AND (customer_domain = sqlc.arg(domain)
       OR customer_name_normalized = sqlc.arg(name)
       OR (country = sqlc.arg(country) AND left(customer_name_normalized, 2) = left(sqlc.arg(name), 2)))
LIMIT 500;

-- name: SetDealConflicts :exec
UPDATE deals SET conflicts = $2, updated_at = now() WHERE id = $1;

-- name: ProtectDeal :exec
UPDATE deals SET status = 'approved', margin = $2, protected_until = $3, updated_at = now() WHERE id = $1;

-- name: ExtendDeal :exec
UPDATE deals SET protected_until = $2, extensions_used = $3, updated_at = now() WHERE id = $1;

-- name: SetDealStage :exec
UPDATE deals SET stage = $2, updated_at = now() WHERE id = $1;

-- name: EndDeal :exec
UPDATE deals SET status = $2, close_reason = $3, final_amount = $4, updated_at = now() WHERE id = $1;

-- name: RecordDealEvent :exec
INSERT INTO deal_events (deal_id, event_key, kind, actor, reason, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_key) DO NOTHING;

-- name: ListDealEvents :many
SELECT * FROM deal_events WHERE deal_id = $1 ORDER BY id;

-- name: Pipeline :many
-- Open deals (waiting for approval or protected) expected to close in [from, to),
-- grouped by stage, partner or tier, per currency: count, value and the
-- probability-weighted forecast from the program's stage probabilities.
WITH stages AS (
    SELECT p.id AS program_id, s->>'name' AS name, (s->>'probability')::numeric AS probability
    FROM programs p, jsonb_array_elements(p.deal_stages) s
)
SELECT (CASE sqlc.arg(group_by)::text WHEN 'stage' THEN d.stage WHEN 'partner' THEN d.partner_id::text ELSE d.tier_id::text END)::text AS group_key,
       (CASE sqlc.arg(group_by)::text WHEN 'stage' THEN min(d.stage) WHEN 'partner' THEN min(pa.company) ELSE min(t.name) END)::text AS group_label,
       d.currency::text AS currency,
       count(*)::bigint AS deals,
       sum(d.estimated_value)::numeric AS total_value,
       round(sum(d.estimated_value * coalesce(st.probability, 0)), 2)::numeric AS weighted_forecast
FROM deals d
JOIN partners pa ON pa.id = d.partner_id
JOIN tiers t ON t.id = d.tier_id
LEFT JOIN stages st ON st.program_id = d.program_id AND st.name = d.stage
WHERE d.status IN ('pending_approval', 'approved', 'won_reported')
  AND d.expected_close_date >= sqlc.arg(from_date)::date AND d.expected_close_date < sqlc.arg(to_date)::date
  AND (sqlc.narg('program_id')::uuid IS NULL OR d.program_id = sqlc.narg('program_id')::uuid)
GROUP BY 1, d.currency
ORDER BY 1, 3;

-- name: LockPartnerCustomer :exec
-- Serialises a partner's registrations for one customer domain until the
-- transaction ends, so two identical registrations cannot both pass the check below.
SELECT pg_advisory_xact_lock(hashtextextended(@partner_id::text || '/' || @customer_domain::text, 0));

-- name: FindOpenDeal :one
SELECT * FROM deals
WHERE partner_id = $1 AND customer_domain = $2 AND status IN ('pending_approval', 'approved', 'won_reported')
ORDER BY id LIMIT 1;

-- name: ReportDealWon :exec
UPDATE deals SET status = 'won_reported', reported_amount = $2, updated_at = now() WHERE id = $1;

-- name: RejectWonReport :exec
UPDATE deals SET status = 'approved', reported_amount = NULL, updated_at = now() WHERE id = $1;
