-- name: CreatePartner :one
INSERT INTO partners (id, program_id, tier_id, name, email, company, website_domain, partner_type, status, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending_review', $9)
RETURNING *;

-- name: GetPartner :one
SELECT * FROM partners WHERE id = $1;

-- name: ListPartners :many
SELECT * FROM partners
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('program_id')::uuid IS NULL OR program_id = sqlc.narg('program_id')::uuid)
  AND (sqlc.narg('tier_id')::uuid IS NULL OR tier_id = sqlc.narg('tier_id')::uuid)
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id
LIMIT $1;

-- name: SetPartnerDecision :exec
UPDATE partners
SET status = $2, decided_by = $3, decided_at = $4, reject_reason = $5, updated_at = now()
WHERE id = $1;

-- name: SetPartnerAgreement :exec
UPDATE partners
SET agreement_version = $2, agreement_accepted_at = $3, status = $4, updated_at = now()
WHERE id = $1;

-- name: SetPartnerStatus :exec
UPDATE partners
SET status = sqlc.arg(status)::text,
    activated_at = CASE WHEN sqlc.arg(status)::text = 'active' THEN coalesce(activated_at, sqlc.arg(at)::timestamptz) ELSE activated_at END,
    updated_at = now()
WHERE id = sqlc.arg(id);

-- name: RecordCertification :one
INSERT INTO certifications (id, partner_id, name, passed_at, expires_at, recorded_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (partner_id, name, expires_at) DO UPDATE SET recorded_by = certifications.recorded_by
RETURNING *;

-- name: ListCertifications :many
SELECT * FROM certifications WHERE partner_id = $1 ORDER BY name, expires_at;

-- name: RecordPartnerEvent :exec
INSERT INTO partner_events (partner_id, event_key, kind, actor, reason, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_key) DO NOTHING;

-- name: ListPartnerEvents :many
SELECT * FROM partner_events WHERE partner_id = $1 ORDER BY id;

-- name: OpenClosesOfProgram :many
SELECT * FROM closes WHERE program_id = $1 AND status IN ('computing', 'review') ORDER BY month;

-- name: SetPartnerTier :execrows
-- Only to a tier of the partner's own program.
UPDATE partners SET tier_id = sqlc.arg(tier_id)::uuid, updated_at = now()
WHERE id = sqlc.arg(id)::uuid
  AND EXISTS (SELECT 1 FROM tiers t WHERE t.id = sqlc.arg(tier_id)::uuid AND t.program_id = partners.program_id);

-- name: SetEmailMuted :exec
UPDATE partners SET email_muted = sqlc.arg(muted)::text[], updated_at = now() WHERE id = sqlc.arg(id)::uuid;

-- name: MarkPartnerRefund :exec
-- A refund was recorded for the partner (its refund rate is to be counted again).
UPDATE partners SET last_refund_at = now() WHERE id = @id;
