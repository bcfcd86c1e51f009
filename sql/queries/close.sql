-- name: InsertClose :one
-- No row when the period has its close already (any unique key: the period or
-- its workflow ID); OpenClose then reads that one.
INSERT INTO closes (id, program_id, month, period_end, status, workflow_id)
VALUES ($1, $2, $3, $4, 'computing', $5)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: GetCloseByPeriod :one
SELECT * FROM closes WHERE program_id = $1 AND month = $2;

-- name: GetClose :one
SELECT * FROM closes WHERE id = $1;

-- name: ListCloses :many
SELECT * FROM closes WHERE program_id = $1 ORDER BY month DESC;

-- name: SetCloseStatus :exec
UPDATE closes SET status = $2,
    approved_by = coalesce(sqlc.narg('approved_by'), approved_by),
    approved_at = coalesce(sqlc.narg('approved_at'), approved_at),
    completed_at = coalesce(sqlc.narg('completed_at'), completed_at)
WHERE id = $1;

-- name: FreezeLines :execrows
-- Freeze: every payable line of the program that happened before the period's end
-- and is in no close yet joins this one — including pending lines whose hold has
-- passed (the holding rule, set-based, whenever the sweep last ran); held (under
-- review), voided and later lines wait.
UPDATE commission_lines SET close_id = sqlc.arg(close_id), status = 'payable'
WHERE program_id = sqlc.arg(program_id) AND close_id IS NULL AND occurred_at < sqlc.arg(period_end)
  AND (status = 'payable' OR (status = 'pending' AND hold_until <= sqlc.arg(now)));

-- name: DeleteStatements :exec
DELETE FROM statements WHERE close_id = $1;

-- name: ComputeStatements :execrows
-- One statement per partner with frozen lines or a balance carried from the
-- program's previous close; the payout minimum decides what is paid now.
WITH prev AS (
    SELECT s.partner_id, s.carried_out
    FROM statements s
    WHERE s.close_id = (SELECT c.id FROM closes c WHERE c.program_id = sqlc.arg(program_id) AND c.month < sqlc.arg(month) ORDER BY c.month DESC LIMIT 1)
      AND s.carried_out <> 0
), sums AS (
    SELECT partner_id,
           sum(amount) FILTER (WHERE kind = 'commission') AS commissions,
           sum(amount) FILTER (WHERE kind = 'deal_margin') AS deal_margins,
           sum(amount) FILTER (WHERE kind = 'mdf_reimbursement') AS mdf,
           sum(amount) FILTER (WHERE kind = 'clawback') AS clawbacks,
           sum(amount) FILTER (WHERE kind = 'adjustment') AS adjustments,
           count(*) AS lines
    FROM commission_lines WHERE close_id = sqlc.arg(close_id)
    GROUP BY partner_id
), joined AS (
    SELECT coalesce(s.partner_id, p.partner_id) AS partner_id,
           coalesce(p.carried_out, 0) AS carried_in,
           coalesce(s.commissions, 0) AS commissions, coalesce(s.deal_margins, 0) AS deal_margins, coalesce(s.mdf, 0) AS mdf,
           coalesce(s.clawbacks, 0) AS clawbacks, coalesce(s.adjustments, 0) AS adjustments, coalesce(s.lines, 0) AS lines
    FROM sums s FULL JOIN prev p ON p.partner_id = s.partner_id
)
INSERT INTO statements (id, close_id, partner_id, currency, carried_in, commissions, deal_margins, mdf, clawbacks, adjustments, total, payable, carried_out, lines)
SELECT gen_random_uuid(), sqlc.arg(close_id), j.partner_id, sqlc.arg(currency), j.carried_in, j.commissions, j.deal_margins, j.mdf, j.clawbacks, j.adjustments,
       t.total,
       CASE WHEN t.total >= sqlc.arg(minimum)::numeric AND t.total > 0 THEN t.total ELSE 0 END,
       CASE WHEN t.total >= sqlc.arg(minimum)::numeric AND t.total > 0 THEN 0 ELSE t.total END,
       j.lines
FROM joined j, LATERAL (SELECT j.carried_in + j.commissions + j.deal_margins + j.mdf + j.clawbacks + j.adjustments AS total) t;

-- name: ListStatements :many
SELECT s.*, p.company, p.name AS partner_name FROM statements s JOIN partners p ON p.id = s.partner_id
WHERE s.close_id = $1 ORDER BY p.company, s.partner_id;

-- name: GetStatement :one
SELECT * FROM statements WHERE close_id = $1 AND partner_id = $2;

-- name: PartnerStatements :many
SELECT s.*, c.month, c.status AS close_status FROM statements s JOIN closes c ON c.id = s.close_id
WHERE s.partner_id = $1 AND (sqlc.narg('month')::date IS NULL OR c.month = sqlc.narg('month')::date)
ORDER BY c.month DESC;

-- name: StatementLines :many
SELECT * FROM commission_lines WHERE close_id = $1 AND partner_id = $2 ORDER BY occurred_at, id;

-- name: CloseTotals :one
SELECT count(*)::bigint AS statements, coalesce(sum(total), 0)::numeric AS total, coalesce(sum(payable), 0)::numeric AS payable,
       coalesce(sum(carried_out), 0)::numeric AS carried_out, count(*) FILTER (WHERE payable > 0)::bigint AS to_pay
FROM statements WHERE close_id = $1;

-- name: CreateAdjustment :one
INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key, close_id)
VALUES ($1, $2, $3, 'adjustment', 'close', $4, $5, $6, 'payable', $7, now(), $8, $4)
RETURNING *;

-- name: CreatePayouts :execrows
-- One payout per partner with something to pay; a re-run creates none twice.
INSERT INTO payouts (id, close_id, partner_id, amount, currency, provider, status, workflow_id)
SELECT gen_random_uuid(), s.close_id, s.partner_id, s.payable, s.currency, sqlc.arg(provider), 'pending',
       'payout-' || s.partner_id || '-' || s.close_id
FROM statements s WHERE s.close_id = sqlc.arg(close_id) AND s.payable > 0
ON CONFLICT (close_id, partner_id) DO NOTHING;

-- name: ListPayouts :many
SELECT * FROM payouts WHERE close_id = $1 ORDER BY partner_id;

-- name: GetPayout :one
SELECT * FROM payouts WHERE id = $1;

-- name: SetPayoutStatus :exec
UPDATE payouts SET status = $2, provider_ref = coalesce(sqlc.narg('provider_ref'), provider_ref), last_error = sqlc.narg('last_error'),
    attempts = attempts + sqlc.arg(attempt)::integer, paid_at = coalesce(sqlc.narg('paid_at'), paid_at), updated_at = now()
WHERE id = $1;

-- name: MarkLinesPaid :execrows
UPDATE commission_lines SET status = 'paid' WHERE close_id = $1 AND partner_id = $2 AND status = 'payable';

-- name: PayoutPartner :one
SELECT p.id, p.company, p.email, p.payout_details FROM partners p WHERE p.id = $1;

-- name: ProgramsClosingOn :many
SELECT id FROM programs WHERE close_day = $1 ORDER BY id;
