//go:build e2e

package main

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/partnerops/partnerops/activities"
)

// Click retention drops whole monthly partitions past CLICK_RETENTION_MONTHS,
// never one a program's attribution window still reaches (here 365 days).
func TestClickRetentionDropsOldPartitionsOnly(t *testing.T) {
	ctx := context.Background()
	f := newProgram(t)
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.example"}, "cookie_window_days": 365}}), http.StatusOK)
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS clicks_2024_01 PARTITION OF clicks FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')",
		"CREATE TABLE IF NOT EXISTS clicks_2025_12 PARTITION OF clicks FOR VALUES FROM ('2025-12-01') TO ('2026-01-01')",
		"INSERT INTO clicks (id, link_id, partner_id, program_id, clicked_at, ip_hash, user_agent, referer, sub_id, bot, duplicate, malformed) " +
			"VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), '2024-01-15', '\\x00', 'ua', '', '', false, false, false)",
	} {
		if _, err := sys.store.Pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	a := &activities.Activities{Store: sys.workerStore, Logger: sys.logger}
	if dropped, err := a.DropOldClickPartitions(ctx); err != nil || len(dropped) != 0 {
		t.Fatalf("with no retention set nothing is dropped: %v %v", dropped, err)
	}
	a.ClickRetentionMonths = 3
	dropped, err := a.DropOldClickPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(dropped, "clicks_2024_01") || slices.Contains(dropped, "clicks_2025_12") {
		t.Fatalf("dropped %v: want clicks_2024_01 and not clicks_2025_12 (inside a 365-day window)", dropped)
	}
	var left []string
	rows, err := sys.store.Pool.Query(ctx, "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'clicks'::regclass ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		left = append(left, n)
	}
	if slices.Contains(left, "clicks_2024_01") || !slices.Contains(left, "clicks_2025_12") || !slices.Contains(left, "clicks_default") {
		t.Fatalf("partitions left: %v", left)
	}
	if again, err := a.DropOldClickPartitions(ctx); err != nil || len(again) != 0 {
		t.Fatalf("a second run dropped %v (%v)", again, err)
	}
}
