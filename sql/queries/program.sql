-- name: CreateProgram :one
INSERT INTO programs (id, name, kind, currency, review_sla_hours, agreement_version, tier_review_grace_days)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: GetProgram :one
SELECT * FROM programs WHERE id = $1;

-- name: ListPrograms :many
SELECT * FROM programs
WHERE sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid
ORDER BY id
LIMIT $1;

-- name: CreateTier :one
INSERT INTO tiers (id, program_id, name, rank, deal_protection_days, mdf_quarterly_allocation, default_margin, required_certifications,
                   min_won_revenue, min_affiliate_revenue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING *;

-- name: ListTiers :many
SELECT * FROM tiers WHERE program_id = $1 ORDER BY rank;

-- name: GetTier :one
SELECT * FROM tiers WHERE id = $1;

-- name: GetLowestTier :one
SELECT * FROM tiers WHERE program_id = $1 ORDER BY rank LIMIT 1;

-- name: AddProgramCertification :exec
INSERT INTO program_certifications (program_id, partner_type, certification)
VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;

-- name: ListProgramCertifications :many
SELECT * FROM program_certifications WHERE program_id = $1 ORDER BY partner_type, certification;

-- name: SetAffiliateSettings :exec
UPDATE programs
SET allowed_domains = $2, fallback_url = $3, attribution_model = $4, cookie_window_days = $5, holding_days = $6,
    click_id_param = $7, tracking_domain = $8
WHERE id = $1;

-- name: AddSigningSecret :exec
UPDATE programs SET signing_secrets = (signing_secrets || sqlc.arg(secret)::text)[greatest(1, cardinality(signing_secrets)):] WHERE id = $1;

-- name: CreateCommissionRule :one
INSERT INTO commission_rules (id, program_id, tier_id, partner_id, event, kind, rate, amount, volume_tiers, recurring, recurring_months, effective_from, effective_to)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *;

-- name: ListCommissionRules :many
SELECT * FROM commission_rules WHERE program_id = $1 ORDER BY effective_from, id;

-- name: SetPayoutSettings :exec
UPDATE programs SET payout_minimum = $2, payout_provider = $3 WHERE id = $1;

-- name: SetDealSettings :exec
UPDATE programs SET deal_approval_sla_hours = $2, deal_auto_decision = $3, deal_max_extensions = $4, deal_extension_days = $5, deal_stages = $6,
    deal_won_auto_confirm_percent = sqlc.narg('won_auto_confirm_percent')
WHERE id = $1;

-- name: SetMDFSettings :exec
UPDATE programs SET mdf_approval_sla_hours = $2, mdf_claim_window_days = $3, mdf_proof_window_days = $4, mdf_grace_days = $5
WHERE id = $1;

-- name: TierReviewStandings :many
-- Every onboarded partner of a program with what the tier review weighs: its
-- tier's rank, closed-won deal revenue and attributed affiliate revenue (refunds
-- netted) over the trailing twelve months, and the certifications valid today.
SELECT p.id, p.workflow_id, p.status, p.tier_id, t.rank AS tier_rank,
       coalesce((SELECT sum(d.final_amount) FROM deals d
                 WHERE d.partner_id = p.id AND d.status = 'won'
                   AND EXISTS (SELECT 1 FROM deal_events e WHERE e.deal_id = d.id AND e.kind = 'won' AND e.occurred_at >= sqlc.arg(since)::timestamptz)), 0)::numeric(14,2) AS won_revenue,
       coalesce((SELECT sum(CASE WHEN cv.kind = 'refund' THEN -cv.amount ELSE cv.amount END) FROM conversions cv
                 WHERE cv.partner_id = p.id AND cv.kind IN ('sale', 'subscription_payment', 'refund') AND cv.occurred_at >= sqlc.arg(since)::timestamptz), 0)::numeric(14,2) AS affiliate_revenue,
       coalesce((SELECT array_agg(DISTINCT c.name) FROM certifications c
                 WHERE c.partner_id = p.id AND c.passed_at <= current_date AND c.expires_at > current_date), '{}')::text[] AS certifications
FROM partners p JOIN tiers t ON t.id = p.tier_id
WHERE p.program_id = sqlc.arg(program_id)::uuid AND p.status IN ('active', 'lapsed', 'awaiting_certification')
  AND (sqlc.narg(partner_id)::uuid IS NULL OR p.id = sqlc.narg(partner_id)::uuid)
ORDER BY p.id;

-- name: ProgramsWithTiers :many
-- Programs with more than one tier: the ones a tier review can move partners in.
SELECT program_id FROM tiers GROUP BY program_id HAVING count(*) > 1 ORDER BY program_id;
