-- name: CreateCommissionLine :exec
INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (dedupe_key) DO NOTHING;

-- name: ListCommissionLinesBySource :many
SELECT * FROM commission_lines WHERE source_type = $1 AND source_id = $2 ORDER BY created_at;

-- name: CreateClawback :one
-- A correction of a frozen line: a new negative line, never a change of the old one.
INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key, hold_until, related_line_id, close_id)
VALUES (@id, @program_id, @partner_id, 'clawback', @source_type, @source_id, @amount, @currency, 'payable', @description, @occurred_at, @dedupe_key, @occurred_at, @related_line_id, sqlc.narg('close_id'))
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING *;

-- name: LockLine :one
SELECT * FROM commission_lines WHERE id = $1 FOR UPDATE;
