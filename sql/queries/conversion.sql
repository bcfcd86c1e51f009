-- name: GetConversionByExternalID :one
SELECT * FROM conversions WHERE program_id = $1 AND external_id = $2;

-- name: GetConversion :one
SELECT * FROM conversions WHERE id = $1;

-- name: CreateConversion :one
INSERT INTO conversions (id, program_id, external_id, request_hash, kind, amount, currency, order_id, customer_ref, customer_email,
    customer_domain, refund_of, occurred_at, partner_id, link_id, click_id, attribution_method, unattributed_reason, fraud_flags, review_status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
RETURNING *;

-- name: OrderSeen :one
SELECT EXISTS (SELECT 1 FROM conversions WHERE program_id = $1 AND order_id = $2 AND kind <> 'refund');

-- name: GetCustomerBinding :one
SELECT * FROM customer_bindings WHERE program_id = $1 AND customer_ref = $2;

-- name: BindCustomer :exec
INSERT INTO customer_bindings (program_id, customer_ref, partner_id, first_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: ProtectedDealFor :one
-- A deal registration protecting this customer wins attribution over cookies.
SELECT partner_id FROM deals
WHERE program_id = $1 AND customer_domain = $2 AND status IN ('approved', 'won_reported') AND protected_until > $3
LIMIT 1;

-- name: PartnerMonthSales :one
SELECT count(*) FROM conversions
WHERE partner_id = @partner_id AND kind IN ('sale', 'subscription_payment') AND occurred_at >= @month_start AND occurred_at < @month_end;

-- name: PartnerRefundStats :one
SELECT count(*) FILTER (WHERE kind IN ('sale', 'subscription_payment'))::bigint AS sales,
       count(*) FILTER (WHERE kind = 'refund')::bigint AS refunds
FROM conversions WHERE partner_id = $1 AND occurred_at >= $2;

-- name: RefundedSoFar :one
SELECT coalesce(sum(amount), 0)::numeric FROM conversions WHERE refund_of = $1;

-- name: CommissionLinesOf :many
SELECT * FROM commission_lines WHERE source_type = 'conversion' AND source_id = $1 ORDER BY created_at FOR UPDATE;

-- name: VoidLine :execrows
-- Only a line no close has frozen (nor paid) is voided; a frozen one gets a
-- clawback instead, and never changes again.
UPDATE commission_lines SET status = 'void' WHERE id = $1 AND close_id IS NULL AND status IN ('pending', 'payable', 'held');

-- name: CreateLine :one
INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key, hold_until, related_line_id, close_id)
VALUES ($1, $2, $3, $4, 'conversion', $5, $6, $7, $8, $9, $10, $11, $12, $13, sqlc.narg('close_id'))
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING *;

-- name: SetReviewStatus :exec
UPDATE conversions SET review_status = $2 WHERE id = $1;

-- name: ReleaseHeldLines :exec
UPDATE commission_lines SET status = $2 WHERE source_type = 'conversion' AND source_id = $1 AND status = 'held';

-- name: MakeLinesPayable :execrows
-- Set-based holding period: a line is payable once its hold has passed and it is
-- neither voided nor under review.
UPDATE commission_lines SET status = 'payable' WHERE status = 'pending' AND hold_until <= $1;

-- name: AffiliateReport :many
-- Clicks and conversions for [from, to) (whole UTC days: the API passes midnights),
-- grouped by partner, link or day, with a label beside each key. Conversions that came without a link (coupon, customer
-- binding, deal) group under "no_link"; click_conversions counts only those a
-- click brought (the conversion rate's numerator).
WITH c AS (
    SELECT CASE sqlc.arg(group_by)::text WHEN 'partner' THEN k.partner_id::text WHEN 'link' THEN k.link_id::text ELSE to_char(k.day, 'YYYY-MM-DD') END AS grp,
           sum(k.clicks) AS clicks, sum(k.unique_clicks) AS unique_clicks, sum(k.flagged_clicks) AS flagged_clicks
    FROM click_stats k -- the writer's per-day counts: whole UTC days
    WHERE k.program_id = sqlc.arg(program_id) AND k.day >= (sqlc.arg(from_time)::timestamptz AT TIME ZONE 'UTC')::date
      AND k.day < (sqlc.arg(to_time)::timestamptz AT TIME ZONE 'UTC')::date
      AND (sqlc.narg('partner_id')::uuid IS NULL OR k.partner_id = sqlc.narg('partner_id')::uuid)
      AND (sqlc.narg('link_id')::uuid IS NULL OR k.link_id = sqlc.narg('link_id')::uuid)
    GROUP BY 1
), v AS (
    SELECT CASE sqlc.arg(group_by)::text WHEN 'partner' THEN cv.partner_id::text WHEN 'link' THEN coalesce(cv.link_id::text, 'no_link') ELSE to_char(cv.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') END AS grp,
           count(*) FILTER (WHERE cv.kind <> 'refund') AS conversions,
           count(*) FILTER (WHERE cv.kind <> 'refund' AND cv.attribution_method IN ('click_token', 'click_id')) AS click_conversions,
           coalesce(sum(CASE WHEN cv.kind = 'refund' THEN -cv.amount ELSE cv.amount END), 0) AS revenue,
           coalesce(sum(l.amount), 0) AS commission
    FROM conversions cv
    LEFT JOIN (SELECT source_id, sum(amount) AS amount FROM commission_lines
               WHERE source_type = 'conversion' AND status <> 'void' GROUP BY source_id) l ON l.source_id = coalesce(cv.refund_of, cv.id) AND cv.kind <> 'refund'
    WHERE cv.program_id = sqlc.arg(program_id) AND cv.partner_id IS NOT NULL AND cv.occurred_at >= sqlc.arg(from_time) AND cv.occurred_at < sqlc.arg(to_time)
      AND (sqlc.narg('partner_id')::uuid IS NULL OR cv.partner_id = sqlc.narg('partner_id')::uuid)
      AND (sqlc.narg('link_id')::uuid IS NULL OR cv.link_id = sqlc.narg('link_id')::uuid)
    GROUP BY 1
), g AS (
    SELECT coalesce(c.grp, v.grp) AS grp,
           coalesce(c.clicks, 0) AS clicks, coalesce(c.unique_clicks, 0) AS unique_clicks, coalesce(c.flagged_clicks, 0) AS flagged_clicks,
           coalesce(v.conversions, 0) AS conversions, coalesce(v.click_conversions, 0) AS click_conversions,
           coalesce(v.revenue, 0) AS revenue, coalesce(v.commission, 0) AS commission
    FROM c FULL JOIN v ON v.grp = c.grp
)
SELECT g.grp::text AS group_key,
       (CASE sqlc.arg(group_by)::text
            WHEN 'partner' THEN coalesce(pa.company, g.grp)
            WHEN 'link' THEN coalesce(li.code || ' → ' || li.destination, 'no link (coupon, customer binding or deal)')
            ELSE g.grp END)::text AS group_label,
       g.clicks::bigint AS clicks, g.unique_clicks::bigint AS unique_clicks, g.flagged_clicks::bigint AS flagged_clicks,
       g.conversions::bigint AS conversions, g.click_conversions::bigint AS click_conversions,
       g.revenue::numeric(14, 2) AS revenue, g.commission::numeric(14, 2) AS commission
FROM g
LEFT JOIN partners pa ON sqlc.arg(group_by)::text = 'partner' AND pa.id::text = g.grp
LEFT JOIN links li ON sqlc.arg(group_by)::text = 'link' AND li.id::text = g.grp
ORDER BY 1;

-- name: ListConversions :many
SELECT * FROM conversions
WHERE program_id = $1
  AND (sqlc.narg('partner_id')::uuid IS NULL OR partner_id = sqlc.narg('partner_id')::uuid)
  AND (sqlc.narg('review_status')::text IS NULL OR review_status = sqlc.narg('review_status')::text)
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id LIMIT $2;

-- A batch of postbacks (activities.Ingest.RecordBatch) reads and writes set-wise:
-- one statement per kind of row for the whole batch, not one per conversion.

-- name: RecordedExternalIDs :many
-- Which of a batch's external ids were recorded before (the caller matches the
-- pairs): an index scan of (program_id, external_id) whatever the table's size.
SELECT program_id, external_id FROM conversions
WHERE program_id = ANY (@program_ids::uuid[]) AND external_id = ANY (@external_ids::text[]);

-- name: OrdersSeen :many
SELECT DISTINCT program_id, order_id FROM conversions
WHERE program_id = ANY (@program_ids::uuid[]) AND order_id = ANY (@order_ids::text[]) AND order_id <> '' AND kind <> 'refund';

-- name: CustomerBindingsFor :many
SELECT * FROM customer_bindings WHERE program_id = ANY (@program_ids::uuid[]) AND customer_ref = ANY (@customer_refs::text[]);

-- name: CreateConversions :many
-- A batch's conversions and their commission lines, in one statement.
-- Amounts travel as text and are cast by PostgreSQL: exact, never a float.
-- A zero UUID or an empty text is SQL NULL (an unattributed conversion).
-- An external id recorded meanwhile (or, for a batch decided without reading,
-- before) is not inserted, nor is its line: not returned, it is recorded alone
-- and answered from the first. Only id and created_at come back: the rest is
-- what was sent (activities.conversionRow, lineRow).
WITH c AS (
    INSERT INTO conversions (id, program_id, external_id, request_hash, kind, amount, currency, order_id, customer_ref, customer_email,
        customer_domain, occurred_at, partner_id, link_id, click_id, attribution_method, unattributed_reason)
    SELECT t.id, t.program_id, t.external_id, t.request_hash, t.kind, t.amount::numeric, t.currency, t.order_id, t.customer_ref, t.customer_email,
        t.customer_domain, t.occurred_at, nullif(t.partner_id, '00000000-0000-0000-0000-000000000000'::uuid),
        nullif(t.link_id, '00000000-0000-0000-0000-000000000000'::uuid), nullif(t.click_id, '00000000-0000-0000-0000-000000000000'::uuid),
        nullif(t.attribution_method, ''), nullif(t.unattributed_reason, '')
    FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@program_ids::uuid[]) AS program_id, unnest(@external_ids::text[]) AS external_id,
            unnest(@request_hashes::bytea[]) AS request_hash, unnest(@kinds::text[]) AS kind, unnest(@amounts::text[]) AS amount,
            unnest(@currencies::text[]) AS currency, unnest(@order_ids::text[]) AS order_id, unnest(@customer_refs::text[]) AS customer_ref,
            unnest(@customer_emails::text[]) AS customer_email, unnest(@customer_domains::text[]) AS customer_domain,
            unnest(@occurred_ats::timestamptz[]) AS occurred_at, unnest(@partner_ids::uuid[]) AS partner_id,
            unnest(@link_ids::uuid[]) AS link_id, unnest(@click_ids::uuid[]) AS click_id,
            unnest(@attribution_methods::text[]) AS attribution_method, unnest(@unattributed_reasons::text[]) AS unattributed_reason) AS t
    ON CONFLICT (program_id, external_id) DO NOTHING
    RETURNING id, created_at
), l AS (
    INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at,
        dedupe_key, hold_until)
    SELECT t.id, t.program_id, t.partner_id, 'commission', 'conversion', t.source_id, t.amount::numeric, t.currency, t.status, t.description,
        t.occurred_at, t.dedupe_key, t.hold_until
    FROM (SELECT unnest(@line_ids::uuid[]) AS id, unnest(@line_program_ids::uuid[]) AS program_id, unnest(@line_partner_ids::uuid[]) AS partner_id,
            unnest(@line_source_ids::uuid[]) AS source_id, unnest(@line_amounts::text[]) AS amount, unnest(@line_currencies::text[]) AS currency,
            unnest(@line_statuses::text[]) AS status, unnest(@line_descriptions::text[]) AS description,
            unnest(@line_occurred_ats::timestamptz[]) AS occurred_at, unnest(@line_dedupe_keys::text[]) AS dedupe_key,
            unnest(@line_hold_untils::timestamptz[]) AS hold_until) AS t
    JOIN c ON c.id = t.source_id
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, created_at
)
SELECT c.id, c.created_at FROM c UNION ALL SELECT l.id, l.created_at FROM l;

-- name: BindCustomers :exec
INSERT INTO customer_bindings (program_id, customer_ref, partner_id, first_at)
SELECT unnest(@program_ids::uuid[]), unnest(@customer_refs::text[]), unnest(@partner_ids::uuid[]), unnest(@first_ats::timestamptz[])
ON CONFLICT DO NOTHING;

