-- name: CreateProgram :one
INSERT INTO programs (id, name, kind, currency, review_sla_hours, agreement_version)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: GetProgram :one
SELECT * FROM programs WHERE id = $1;

-- name: ListPrograms :many
SELECT * FROM programs
WHERE sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid
ORDER BY id
LIMIT $1;

-- name: CreateTier :one
INSERT INTO tiers (id, program_id, name, rank, deal_protection_days, mdf_quarterly_allocation, default_margin, required_certifications)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
