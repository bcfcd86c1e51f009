-- name: CreateAllocation :one
-- The allocation row exists once per partner and quarter; it is also the lock that
-- serialises every movement of that quarter's funds.
INSERT INTO mdf_allocations (partner_id, quarter, program_id, currency, workflow_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (partner_id, quarter) DO UPDATE SET partner_id = EXCLUDED.partner_id
RETURNING *, (xmax = 0) AS created;

-- name: LockAllocation :one
SELECT * FROM mdf_allocations WHERE partner_id = $1 AND quarter = $2 FOR UPDATE;

-- name: MarkAllocationExpired :exec
UPDATE mdf_allocations SET expired_at = $3 WHERE partner_id = $1 AND quarter = $2 AND expired_at IS NULL;

-- name: AccountBalances :many
SELECT account, sum(amount)::numeric AS balance
FROM ledger_postings WHERE partner_id = $1 AND quarter = $2
GROUP BY account;

-- name: CreateLedgerEntry :one
INSERT INTO ledger_entries (entry_key, kind, partner_id, quarter, mdf_request_id, memo, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (entry_key) DO NOTHING
RETURNING id;

-- name: CreatePosting :exec
INSERT INTO ledger_postings (entry_id, account, partner_id, quarter, amount, currency)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: UnbalancedEntries :many
SELECT entry_id FROM ledger_postings GROUP BY entry_id HAVING sum(amount) <> 0;

-- name: CreateMDFRequest :one
INSERT INTO mdf_requests (id, program_id, partner_id, tier_id, quarter, activity_type, description, start_date, end_date,
    requested_amount, currency, expected_outcomes, status, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending_approval', $13)
RETURNING *;

-- name: GetMDFRequest :one
SELECT * FROM mdf_requests WHERE id = $1;

-- name: ListMDFRequests :many
SELECT * FROM mdf_requests
WHERE (sqlc.narg('partner_id')::uuid IS NULL OR partner_id = sqlc.narg('partner_id')::uuid)
  AND (sqlc.narg('program_id')::uuid IS NULL OR program_id = sqlc.narg('program_id')::uuid)
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('quarter')::text IS NULL OR quarter = sqlc.narg('quarter')::text)
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id
LIMIT $1;

-- name: UpdateMDFRequest :exec
UPDATE mdf_requests
SET status = $2, approved_amount = coalesce(sqlc.narg('approved_amount'), approved_amount),
    claimed_amount = coalesce(sqlc.narg('claimed_amount'), claimed_amount),
    reimbursed_amount = coalesce(sqlc.narg('reimbursed_amount'), reimbursed_amount),
    results = coalesce(sqlc.narg('results'), results),
    claim_deadline = coalesce(sqlc.narg('claim_deadline'), claim_deadline),
    proof_deadline = coalesce(sqlc.narg('proof_deadline'), proof_deadline),
    close_reason = coalesce(sqlc.narg('close_reason'), close_reason),
    updated_at = now()
WHERE id = $1;

-- name: RecordMDFEvent :exec
INSERT INTO mdf_events (request_id, event_key, kind, actor, reason, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_key) DO NOTHING;

-- name: ListMDFEvents :many
SELECT * FROM mdf_events WHERE request_id = $1 ORDER BY id;

-- name: CreateMDFFile :one
INSERT INTO mdf_files (id, request_id, name, content_type, size_bytes, sha256, storage_key, uploaded_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: ListMDFFiles :many
SELECT * FROM mdf_files WHERE request_id = $1 ORDER BY created_at, id;

-- name: GetMDFFile :one
SELECT * FROM mdf_files WHERE id = $1 AND request_id = $2;

-- name: MDFReport :many
-- Per partner for a quarter: allocated, approved (pre-approvals), claimed,
-- reimbursable (claims approved, not paid yet), reimbursed (paid by a payout) and
-- expired from the ledger; leads from the approved claims' results.
WITH moves AS (
    SELECT p.partner_id,
           sum(CASE WHEN p.account = 'mdf_budget' THEN -p.amount ELSE 0 END) AS allocated,
           sum(CASE WHEN p.account = 'mdf_approved' AND p.amount > 0 AND e.kind = 'pre_approve' THEN p.amount ELSE 0 END) AS approved,
           sum(CASE WHEN p.account = 'mdf_claimed' AND p.amount > 0 THEN p.amount ELSE 0 END)
             - sum(CASE WHEN p.account = 'mdf_claimed' AND p.amount < 0 AND e.kind = 'unclaim' THEN -p.amount ELSE 0 END) AS claimed,
           sum(CASE WHEN p.account = 'mdf_reimbursable' THEN p.amount ELSE 0 END) AS reimbursable,
           sum(CASE WHEN p.account = 'mdf_reimbursed' THEN p.amount ELSE 0 END) AS reimbursed,
           sum(CASE WHEN p.account = 'mdf_expired' THEN p.amount ELSE 0 END) AS expired
    FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
    WHERE p.quarter = sqlc.arg(quarter)
    GROUP BY p.partner_id
), leads AS (
    SELECT partner_id, sum(coalesce((results->>'leads')::bigint, 0)) AS leads
    FROM mdf_requests WHERE quarter = sqlc.arg(quarter) AND status IN ('reimbursable', 'reimbursed')
    GROUP BY partner_id
)
SELECT pa.id AS partner_id, pa.company, t.name AS tier, a.currency::text AS currency,
       m.allocated::numeric AS allocated, m.approved::numeric AS approved, m.claimed::numeric AS claimed,
       m.reimbursable::numeric AS reimbursable, m.reimbursed::numeric AS reimbursed, m.expired::numeric AS expired,
       coalesce(l.leads, 0)::bigint AS leads
FROM moves m
JOIN partners pa ON pa.id = m.partner_id
JOIN tiers t ON t.id = pa.tier_id
JOIN mdf_allocations a ON a.partner_id = m.partner_id AND a.quarter = sqlc.arg(quarter)
LEFT JOIN leads l ON l.partner_id = m.partner_id
WHERE (sqlc.narg('program_id')::uuid IS NULL OR pa.program_id = sqlc.narg('program_id')::uuid)
ORDER BY t.name, pa.company;

-- name: TierDefaultCandidates :many
-- Active partners whose tier allocates MDF each quarter.
SELECT p.id AS partner_id, p.program_id, p.company, pr.currency, pr.mdf_grace_days, t.name AS tier, t.mdf_quarterly_allocation
FROM partners p JOIN tiers t ON t.id = p.tier_id JOIN programs pr ON pr.id = p.program_id
WHERE p.status = 'active' AND t.mdf_quarterly_allocation > 0
  AND (sqlc.narg('program_id')::uuid IS NULL OR p.program_id = sqlc.narg('program_id')::uuid)
ORDER BY p.id;

-- name: DeleteMDFFiles :exec
-- Proof files recorded for a claim the workflow refused.
DELETE FROM mdf_files WHERE id = ANY(@ids::uuid[]);

-- name: MarkMDFReimbursed :exec
UPDATE mdf_requests SET status = 'reimbursed', updated_at = now() WHERE id = $1 AND status = 'reimbursable';
