-- name: LockPartnerForPayoutDetails :one
-- Serialises a partner's changes of payout details (versions are numbered).
-- NO KEY UPDATE, not UPDATE: rows that name the partner (a close's statements,
-- an adjustment's line) take KEY SHARE on it while holding their close, and a
-- change of details then waits for that close: with UPDATE the two would wait on
-- each other in a circle.
SELECT id, program_id FROM partners WHERE id = $1 FOR NO KEY UPDATE;

-- name: LatestPayoutDetails :one
SELECT * FROM payout_details WHERE partner_id = $1 ORDER BY version DESC LIMIT 1;

-- name: AddPayoutDetails :one
-- A new version. The first a partner gives is confirmed as given (it redirects
-- nothing); every later one waits for finance.
INSERT INTO payout_details (id, partner_id, version, method, holder, destination, created_by, confirmed_by, confirmed_at)
SELECT @id, @partner_id, coalesce(max(d.version), 0) + 1, @method, @holder, @destination, @created_by,
       CASE WHEN max(d.version) IS NULL THEN 'first details' END, CASE WHEN max(d.version) IS NULL THEN now() END
FROM payout_details d WHERE d.partner_id = @partner_id
RETURNING *;

-- name: ConfirmPayoutDetails :one
UPDATE payout_details SET confirmed_by = @actor, confirmed_at = now()
WHERE id = @id AND confirmed_at IS NULL
RETURNING *;

-- name: PreparePayout :one
-- Pins the payout to the partner's latest payout details when finance has
-- confirmed them, else holds it with the reason. Only a payout not yet sent.
WITH d AS (SELECT * FROM payout_details pd WHERE pd.partner_id = (SELECT partner_id FROM payouts WHERE payouts.id = @id) ORDER BY pd.version DESC LIMIT 1)
UPDATE payouts p SET
    payout_details_id = CASE WHEN d.confirmed_at IS NOT NULL THEN d.id ELSE p.payout_details_id END,
    status = CASE WHEN d.confirmed_at IS NOT NULL THEN 'pending' ELSE 'held' END,
    held_reason = CASE WHEN d.confirmed_at IS NOT NULL THEN NULL
        ELSE 'payout details changed on ' || to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' (version ' || d.version || '): held until finance confirms them' END,
    updated_at = now()
FROM d
WHERE p.id = @id AND p.status IN ('pending', 'held', 'failed')
RETURNING p.*;

-- name: HeldPayoutsOfPartner :many
SELECT * FROM payouts WHERE partner_id = $1 AND status = 'held' ORDER BY created_at;

-- name: PayoutDestination :one
-- Where a payout is sent: the version it names, never the partner's latest.
SELECT p.company, p.email, d.id AS details_id, d.version, d.method, d.holder, d.destination, d.confirmed_at
FROM payouts po JOIN partners p ON p.id = po.partner_id JOIN payout_details d ON d.id = po.payout_details_id
WHERE po.id = $1;

-- name: PayoutBatch :many
-- A close's payouts that have been sent (their ledger entry posted, their
-- version pinned by PreparePayout), with the version each pays: a payout still
-- pending may yet be held, and is written into the file when it is sent itself.
SELECT po.id, po.partner_id, po.amount, po.currency, p.company, p.email, d.method, d.holder, d.destination
FROM payouts po JOIN partners p ON p.id = po.partner_id JOIN payout_details d ON d.id = po.payout_details_id
WHERE po.close_id = $1 AND po.status IN ('submitted', 'paid')
ORDER BY po.partner_id;

-- name: CloseHeldForDetails :many
-- A close's partners whose payout waits for finance to confirm changed payout
-- details: held in their statement (review) or at sending (a change after sign-off).
SELECT p.id AS partner_id, p.company, d.version, d.method, d.destination, d.created_at AS changed_at, po.id AS payout_id
FROM partners p
JOIN LATERAL (SELECT * FROM payout_details pd WHERE pd.partner_id = p.id ORDER BY pd.version DESC LIMIT 1) d ON d.confirmed_at IS NULL
LEFT JOIN payouts po ON po.close_id = @close_id AND po.partner_id = p.id
WHERE p.id IN (SELECT s.partner_id FROM statements s WHERE s.close_id = @close_id AND s.carried_reason LIKE 'payout details changed%'
               UNION SELECT h.partner_id FROM payouts h WHERE h.close_id = @close_id AND h.status = 'held')
ORDER BY p.company, p.id;
