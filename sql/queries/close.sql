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

-- name: DeleteStatementLines :exec
DELETE FROM statement_lines WHERE close_id = $1;

-- name: LockClose :one
-- Serialises everything that (re)computes a close's statements or moves it on:
-- the compute, an adjustment, a refund netted into it, the sign-off.
SELECT * FROM closes WHERE id = $1 FOR UPDATE;

-- name: RecordStatementLines :execrows
-- The unpaid lines the partner's statement in the program's previous close
-- carried (it paid nothing) are carried into this one. (A statement's own lines
-- are its close's: commission_lines.close_id; statement_members has both.)
INSERT INTO statement_lines (close_id, partner_id, line_id, carried)
SELECT sqlc.arg(close_id)::uuid, sm.partner_id, sm.line_id, true
FROM statements s
JOIN statement_members sm ON sm.close_id = s.close_id AND sm.partner_id = s.partner_id
JOIN commission_lines l ON l.id = sm.line_id AND l.status = 'payable'
WHERE s.close_id = (SELECT c.id FROM closes c WHERE c.program_id = sqlc.arg(program_id) AND c.month < sqlc.arg(month) ORDER BY c.month DESC LIMIT 1)
  AND s.payable = 0;

-- name: ComputeStatements :execrows
-- One statement per partner with lines (RecordStatementLines first). Payout
-- details are read as they stood at as_of (versions are never edited, so an
-- audit recomputes a close as it was computed): the payout minimum decides what
-- is paid now; a partner with no payout details is not paid to nowhere, and one
-- whose latest details finance has not confirmed is held — both carried, with
-- the reason.
WITH lines AS (
    -- The close's own lines straight from their index, the carried ones through statement_lines.
    SELECT l.partner_id, l.kind, l.amount, false AS carried FROM commission_lines l WHERE l.close_id = sqlc.arg(close_id)
    UNION ALL
    SELECT sl.partner_id, l.kind, l.amount, true FROM statement_lines sl JOIN commission_lines l ON l.id = sl.line_id WHERE sl.close_id = sqlc.arg(close_id)
), sums AS (
    SELECT partner_id,
           sum(amount) FILTER (WHERE carried) AS carried_in,
           sum(amount) FILTER (WHERE NOT carried AND kind = 'commission') AS commissions,
           sum(amount) FILTER (WHERE NOT carried AND kind = 'deal_margin') AS deal_margins,
           sum(amount) FILTER (WHERE NOT carried AND kind = 'mdf_reimbursement') AS mdf,
           sum(amount) FILTER (WHERE NOT carried AND kind = 'clawback') AS clawbacks,
           sum(amount) FILTER (WHERE NOT carried AND kind = 'adjustment') AS adjustments,
           count(*) AS lines
    FROM lines
    GROUP BY partner_id
), totals AS (
    SELECT s.*, coalesce(s.carried_in, 0) + coalesce(s.commissions, 0) + coalesce(s.deal_margins, 0) + coalesce(s.mdf, 0)
             + coalesce(s.clawbacks, 0) + coalesce(s.adjustments, 0) AS total,
           d.id IS NOT NULL AS has_details,
           -- A change of existing details (a classic fraud path) holds the payout until finance confirms it.
           (d.id IS NOT NULL AND (d.confirmed_at IS NULL OR d.confirmed_at > coalesce(sqlc.narg(as_of)::timestamptz, now()))) AS details_unconfirmed,
           d.created_at AS details_changed_at
    FROM sums s LEFT JOIN LATERAL (
        SELECT pd.id, pd.created_at, pd.confirmed_at FROM payout_details pd
        WHERE pd.partner_id = s.partner_id AND pd.created_at <= coalesce(sqlc.narg(as_of)::timestamptz, now())
        ORDER BY pd.version DESC LIMIT 1) d ON true
), decided AS (
    SELECT t.*, CASE
        WHEN t.total <= 0 THEN CASE WHEN t.total < 0 THEN 'the partner owes this; netted against later earnings' ELSE 'nothing to pay' END
        WHEN t.total < sqlc.arg(minimum)::numeric THEN 'below the payout minimum of ' || (sqlc.arg(minimum)::numeric(14, 2))::text
        WHEN NOT t.has_details THEN 'no payout details: the partner has not said where to be paid'
        WHEN t.details_unconfirmed THEN 'payout details changed on ' || to_char(t.details_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ': held until finance confirms them'
        ELSE '' END AS reason
    FROM totals t
)
INSERT INTO statements (id, close_id, partner_id, currency, carried_in, commissions, deal_margins, mdf, clawbacks, adjustments, total, payable, carried_out, lines, carried_reason)
SELECT gen_random_uuid(), sqlc.arg(close_id), d.partner_id, sqlc.arg(currency), coalesce(d.carried_in, 0), coalesce(d.commissions, 0), coalesce(d.deal_margins, 0),
       coalesce(d.mdf, 0), coalesce(d.clawbacks, 0), coalesce(d.adjustments, 0), d.total,
       CASE WHEN d.reason = '' THEN d.total ELSE 0 END,
       CASE WHEN d.reason = '' THEN 0 ELSE d.total END,
       d.lines, d.reason
FROM decided d;

-- name: SetCloseComputed :exec
-- What the statements were computed from: the time payout details were read at
-- (the transaction's, as ComputeStatements read them), and the minimum.
UPDATE closes SET computed_at = now(), payout_minimum = @payout_minimum WHERE id = @id;

-- name: ListStatements :many
SELECT s.*, p.company, p.name AS partner_name FROM statements s JOIN partners p ON p.id = s.partner_id
WHERE s.close_id = $1 ORDER BY p.company, s.partner_id;

-- name: PartnerStatements :many
SELECT s.*, c.month, c.status AS close_status FROM statements s JOIN closes c ON c.id = s.close_id
WHERE s.partner_id = $1 AND (sqlc.narg('month')::date IS NULL OR c.month = sqlc.narg('month')::date)
ORDER BY c.month DESC;

-- name: StatementLines :many
-- Every line a statement holds, carried ones included.
SELECT l.* FROM statement_members sl JOIN commission_lines l ON l.id = sl.line_id
WHERE sl.close_id = $1 AND sl.partner_id = $2 ORDER BY l.occurred_at, l.id;

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
-- Each names, from its creation, the partner's latest payout details finance has
-- confirmed (the payout workflow holds it if a newer version waits).
INSERT INTO payouts (id, close_id, partner_id, amount, currency, provider, status, workflow_id, payout_details_id)
SELECT gen_random_uuid(), s.close_id, s.partner_id, s.payable, s.currency, sqlc.arg(provider), 'pending',
       sqlc.arg(workflow_prefix)::text || s.partner_id || '-' || s.close_id,
       (SELECT d.id FROM payout_details d WHERE d.partner_id = s.partner_id AND d.confirmed_at IS NOT NULL ORDER BY d.version DESC LIMIT 1)
FROM statements s WHERE s.close_id = sqlc.arg(close_id) AND s.payable > 0
ON CONFLICT (close_id, partner_id) DO NOTHING;

-- name: ListPayouts :many
SELECT * FROM payouts WHERE close_id = $1 ORDER BY partner_id;

-- name: ListPayoutRefs :many
-- A close's payouts with their partner's company, for the payout workflows' summaries.
SELECT po.id, po.workflow_id, po.provider, po.partner_id, po.amount, po.currency, p.company
FROM payouts po JOIN partners p ON p.id = po.partner_id WHERE po.close_id = $1 ORDER BY po.partner_id;

-- name: GetPayout :one
SELECT * FROM payouts WHERE id = $1;

-- name: SetPayoutStatus :exec
UPDATE payouts SET status = $2, provider_ref = coalesce(sqlc.narg('provider_ref'), provider_ref), last_error = sqlc.narg('last_error'),
    attempts = attempts + sqlc.arg(attempt)::integer, paid_at = coalesce(sqlc.narg('paid_at'), paid_at), updated_at = now()
WHERE id = $1;

-- name: MarkLinesPaid :many
-- A paid payout settles every line its statement held, whichever close first froze it.
UPDATE commission_lines SET status = 'paid'
WHERE id IN (SELECT sl.line_id FROM statement_members sl WHERE sl.close_id = $1 AND sl.partner_id = $2) AND status = 'payable'
RETURNING id, kind, source_type, source_id, amount;

-- name: OpenCloseHolding :one
-- The close still open (computing or in review) that holds a line, if any.
SELECT c.* FROM closes c
WHERE c.status IN ('computing', 'review')
  AND (c.id = sqlc.narg('close_id') OR c.id IN (SELECT sl.close_id FROM statement_lines sl WHERE sl.line_id = sqlc.arg(line_id)))
ORDER BY c.month DESC LIMIT 1;

-- name: LaterClose :one
-- The latest close of the program after a month, if any: closes run in order.
SELECT * FROM closes WHERE program_id = $1 AND month > $2 ORDER BY month DESC LIMIT 1;

-- name: ProgramsClosingOn :many
SELECT id, name FROM programs WHERE close_day = $1 ORDER BY id;

-- name: PayoutCountsByStatus :many
SELECT status, count(*)::bigint AS n FROM payouts GROUP BY status ORDER BY status;

-- name: CloseCountsByStatus :many
SELECT status, count(*)::bigint AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_seconds
FROM closes GROUP BY status ORDER BY status;
