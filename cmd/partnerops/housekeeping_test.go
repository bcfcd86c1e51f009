//go:build e2e

package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/workflows"
)

// The hourly housekeeping, run as its Schedule runs it, on the real server:
// expired Idempotency-Keys swept, the click partitions kept ahead, unstarted
// webhook deliveries started and, with no click retention set, no partition
// dropped. Its history is recorded for replay (RECORD_HISTORIES).
func TestHousekeepingRunsOnTheServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An expired key for it to sweep.
	if _, err := sys.store.Pool.Exec(ctx, "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('test', $1, '\\x00', now() - interval '25 hours')", uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	id := "housekeeping-test-" + uuid.NewString()[:8]
	run, err := sys.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.HousekeepingWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var out activities.Housekeeping
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.IdempotencyKeysSwept < 1 || len(out.ClickPartitionsDropped) != 0 {
		t.Fatalf("housekeeping did %+v: want at least the expired key swept and no partition dropped", out)
	}
	var ahead int
	if err := sys.store.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'clicks_' || to_char(now() + interval '3 months', 'YYYY_MM')").Scan(&ahead); err != nil || ahead != 1 {
		t.Fatalf("the partition three months ahead: %d (%v)", ahead, err)
	}
	recordHistory(t, id, "housekeeping")
}
