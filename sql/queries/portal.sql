-- name: CreateUser :one
INSERT INTO users (id, email, name, role, partner_id, invited_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (email) DO NOTHING
RETURNING *;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE email = $1;

-- name: GetUser :one
SELECT * FROM users WHERE id = $1;

-- name: ListPartnerUsers :many
SELECT * FROM users WHERE partner_id = $1 ORDER BY created_at, id;

-- name: FindPartnerContact :one
-- The partner whose application gave this e-mail address (its first user).
SELECT * FROM partners
WHERE lower(email) = sqlc.arg('email')::text AND status <> 'rejected'
ORDER BY created_at
LIMIT 1;

-- name: CountRecentSignInTokens :one
SELECT count(*)::bigint FROM sign_in_tokens WHERE user_id = $1 AND created_at > now() - interval '15 minutes';

-- name: CreateSignInToken :exec
INSERT INTO sign_in_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3);

-- name: UseSignInToken :one
-- Single use: the first to use a live token gets its user; every later try nothing.
UPDATE sign_in_tokens SET used_at = now()
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING user_id;

-- name: CreateSession :exec
INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4);

-- name: GetSession :one
SELECT s.id_hash, s.csrf_token, s.expires_at, s.last_seen_at, u.id AS user_id, u.email, u.name, u.role, u.partner_id
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL;

-- name: TouchSession :exec
UPDATE sessions SET last_seen_at = now() WHERE id_hash = $1;

-- name: EndSession :exec
UPDATE sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL;

-- name: ExpireSessionsOfUser :exec
-- For tests and operators: every live session of a user ends now.
UPDATE sessions SET expires_at = now() WHERE user_id = $1 AND ended_at IS NULL;

-- name: ManagerInbox :many
-- Everything waiting for a manager's decision, oldest due time first. due is
-- when its SLA runs out (the process reminds and escalates from then on).
SELECT * FROM (
    SELECT 'application'::text AS kind, p.id, p.company AS title, p.name AS partner, p.program_id,
           p.created_at AS since, (p.created_at + make_interval(hours => pr.review_sla_hours))::timestamptz AS due,
           ''::text AS amount, ''::text AS currency, p.workflow_id
    FROM partners p JOIN programs pr ON pr.id = p.program_id
    WHERE p.status = 'pending_review'
  UNION ALL
    SELECT 'deal', d.id, d.customer_name, p.company, d.program_id, d.created_at,
           d.created_at + make_interval(hours => pr.deal_approval_sla_hours), d.estimated_value::text, d.currency, d.workflow_id
    FROM deals d JOIN partners p ON p.id = d.partner_id JOIN programs pr ON pr.id = d.program_id
    WHERE d.status = 'pending_approval'
  UNION ALL
    SELECT 'won_report', d.id, d.customer_name, p.company, d.program_id, d.updated_at,
           d.updated_at + make_interval(hours => pr.deal_approval_sla_hours), coalesce(d.final_amount, d.estimated_value)::text, d.currency, d.workflow_id
    FROM deals d JOIN partners p ON p.id = d.partner_id JOIN programs pr ON pr.id = d.program_id
    WHERE d.status = 'won_reported'
  UNION ALL
    SELECT 'extension', d.id, d.customer_name, p.company, d.program_id, last.occurred_at,
           last.occurred_at + make_interval(hours => pr.deal_approval_sla_hours), d.estimated_value::text, d.currency, d.workflow_id
    FROM deals d JOIN partners p ON p.id = d.partner_id JOIN programs pr ON pr.id = d.program_id
    JOIN LATERAL (SELECT e.kind, e.occurred_at FROM deal_events e
                  WHERE e.deal_id = d.id AND e.kind IN ('extension_requested', 'extended', 'extension_rejected')
                  ORDER BY e.id DESC LIMIT 1) last ON last.kind = 'extension_requested'
    WHERE d.status = 'approved'
  UNION ALL
    SELECT 'mdf_request', m.id, m.description, p.company, m.program_id, m.created_at,
           m.created_at + make_interval(hours => pr.mdf_approval_sla_hours), m.requested_amount::text, m.currency, m.workflow_id
    FROM mdf_requests m JOIN partners p ON p.id = m.partner_id JOIN programs pr ON pr.id = m.program_id
    WHERE m.status = 'pending_approval'
  UNION ALL
    SELECT 'mdf_claim', m.id, m.description, p.company, m.program_id, m.updated_at,
           m.updated_at + make_interval(hours => pr.mdf_approval_sla_hours), coalesce(m.claimed_amount, 0)::text, m.currency, m.workflow_id
    FROM mdf_requests m JOIN partners p ON p.id = m.partner_id JOIN programs pr ON pr.id = m.program_id
    WHERE m.status = 'claimed'
  UNION ALL
    SELECT 'conversion', c.id, c.kind || ' ' || c.external_id, coalesce(p.company, ''), c.program_id, c.created_at,
           c.created_at + make_interval(hours => pr.conversion_review_sla_hours), c.amount::text, c.currency, 'review-' || c.id::text
    FROM conversions c JOIN programs pr ON pr.id = c.program_id LEFT JOIN partners p ON p.id = c.partner_id
    WHERE c.review_status = 'pending'
) inbox
WHERE (sqlc.narg('kind')::text IS NULL OR kind = sqlc.narg('kind')::text)
  AND (sqlc.narg('program_id')::uuid IS NULL OR program_id = sqlc.narg('program_id')::uuid)
ORDER BY due, id
LIMIT sqlc.arg('lim') OFFSET sqlc.arg('off');

-- name: ListCloses :many
SELECT c.*, pr.name AS program_name,
       (SELECT count(*) FROM statements s WHERE s.close_id = c.id)::bigint AS statements,
       (SELECT count(*) FROM payouts po WHERE po.close_id = c.id AND po.status = 'failed')::bigint AS failed_payouts
FROM closes c JOIN programs pr ON pr.id = c.program_id
ORDER BY c.month DESC, c.created_at DESC
LIMIT sqlc.arg('lim') OFFSET sqlc.arg('off');

-- name: ListAllPayouts :many
SELECT po.*, p.company AS partner_company, c.month
FROM payouts po JOIN partners p ON p.id = po.partner_id JOIN closes c ON c.id = po.close_id
WHERE sqlc.narg('status')::text IS NULL OR po.status = sqlc.narg('status')::text
ORDER BY (po.status IN ('failed', 'held')) DESC, po.created_at DESC, po.id
LIMIT sqlc.arg('lim') OFFSET sqlc.arg('off');

-- name: PartnerEarnings :one
-- A partner's money by state: pending (holding), payable (not paid yet), paid.
SELECT coalesce(sum(amount) FILTER (WHERE status IN ('held', 'pending')), 0)::numeric AS pending,
       coalesce(sum(amount) FILTER (WHERE status = 'payable'), 0)::numeric AS payable,
       coalesce(sum(amount) FILTER (WHERE status = 'paid'), 0)::numeric AS paid
FROM commission_lines WHERE partner_id = $1;

-- name: ListUsers :many
-- Newest first; after is the last id of the previous page.
SELECT * FROM users
WHERE sqlc.narg('after')::uuid IS NULL OR id < sqlc.narg('after')::uuid
ORDER BY id DESC
LIMIT sqlc.arg('lim');

-- name: ListProgramNames :many
-- Every program, newest first, for the portal's filters and forms.
SELECT id, name FROM programs ORDER BY id DESC LIMIT 1000;

-- name: DisableUser :one
-- A disabled user cannot sign in, and every session it has ends now.
WITH ended AS (
    UPDATE sessions SET ended_at = now() WHERE user_id = sqlc.arg('id') AND ended_at IS NULL
)
UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = sqlc.arg('id')
RETURNING *;
