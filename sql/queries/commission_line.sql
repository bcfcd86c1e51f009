-- name: CreateCommissionLine :exec
INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: ListCommissionLinesBySource :many
SELECT * FROM commission_lines WHERE source_type = $1 AND source_id = $2 ORDER BY created_at;
