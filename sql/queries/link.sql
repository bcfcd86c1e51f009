-- name: CreateLink :one
INSERT INTO links (id, code, program_id, partner_id, destination, sub_id)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: GetLink :one
SELECT * FROM links WHERE id = $1;

-- name: ListLinks :many
SELECT * FROM links
WHERE (sqlc.narg('partner_id')::uuid IS NULL OR partner_id = sqlc.narg('partner_id')::uuid)
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id LIMIT $1;

-- name: DisableLink :exec
UPDATE links SET disabled_at = now(), updated_at = now() WHERE id = $1 AND disabled_at IS NULL;

-- name: LinksChangedSince :many
-- The click handler's cache: links changed after (updated_at, id), a page at a
-- time, with what the handler needs of its program.
SELECT l.id, l.code, l.program_id, l.partner_id, l.destination, l.sub_id, l.disabled_at, l.updated_at,
       p.attribution_model, p.cookie_window_days, p.click_id_param, p.tracking_domain
FROM links l JOIN programs p ON p.id = l.program_id
WHERE (l.updated_at, l.id) > (sqlc.arg(after_updated_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY l.updated_at, l.id
LIMIT sqlc.arg(page_size);

-- name: ProgramTracking :many
-- The click handler's per-program settings: fallback URLs and tracking domains.
SELECT id, fallback_url, tracking_domain FROM programs WHERE fallback_url IS NOT NULL OR tracking_domain IS NOT NULL;

-- name: LinkByCode :one
-- A code the click cache does not hold yet (created since its last refresh).
SELECT l.id, l.code, l.program_id, l.partner_id, l.destination, l.sub_id, l.disabled_at, l.updated_at,
       p.attribution_model, p.cookie_window_days, p.click_id_param, p.tracking_domain
FROM links l JOIN programs p ON p.id = l.program_id
WHERE l.code = $1;

-- name: InsertClicks :copyfrom
INSERT INTO clicks (id, link_id, partner_id, program_id, clicked_at, ip_hash, user_agent, referer, sub_id, bot, duplicate, malformed)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: GetClick :one
SELECT * FROM clicks WHERE id = $1 LIMIT 1;

-- name: EnsureClickPartitions :exec
SELECT ensure_click_partitions($1::integer);

-- name: CreateCoupon :one
INSERT INTO coupons (id, code, program_id, partner_id) VALUES ($1, $2, $3, $4) RETURNING *;

-- name: GetCouponByCode :one
SELECT * FROM coupons WHERE code = $1 AND program_id = $2 AND disabled_at IS NULL;

-- name: SetPartnerIPHash :exec
UPDATE partners SET last_ip_hash = $2 WHERE id = $1;

-- name: TouchProgramLinks :exec
-- A program's tracking settings changed: its links reload into the click cache.
UPDATE links SET updated_at = now() WHERE program_id = $1;

-- name: GetClicks :many
SELECT * FROM clicks WHERE id = ANY (@ids::uuid[]);

-- name: CouponsByCodes :many
SELECT * FROM coupons WHERE program_id = ANY (@program_ids::uuid[]) AND code = ANY (@codes::text[]) AND disabled_at IS NULL;

-- name: AddClickStats :exec
-- A batch's clicks, counted per link and UTC day by the writer, added to the
-- running counts (in the batch's transaction).
INSERT INTO click_stats (program_id, day, link_id, partner_id, clicks, unique_clicks, flagged_clicks)
SELECT unnest(@program_ids::uuid[]), (unnest(@days::timestamptz[]) AT TIME ZONE 'UTC')::date, unnest(@link_ids::uuid[]),
    unnest(@partner_ids::uuid[]), unnest(@clicks::bigint[]), unnest(@unique_clicks::bigint[]), unnest(@flagged_clicks::bigint[])
ON CONFLICT (program_id, day, link_id) DO UPDATE
SET clicks = click_stats.clicks + excluded.clicks, unique_clicks = click_stats.unique_clicks + excluded.unique_clicks,
    flagged_clicks = click_stats.flagged_clicks + excluded.flagged_clicks;

-- name: DropClickPartitionsBefore :many
SELECT drop_click_partitions_before(@before::date)::text AS name;

-- name: LongestCookieWindow :one
-- The longest attribution window of any program, in days: clicks younger than
-- it are never dropped.
SELECT coalesce(max(cookie_window_days), 0)::integer FROM programs;
