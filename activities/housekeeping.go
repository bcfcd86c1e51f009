package activities

import (
	"context"
	"fmt"
)

// Housekeeping is what the hourly housekeeping workflow did.
type Housekeeping struct {
	IdempotencyKeysSwept     int64 `json:"idempotency_keys_swept"`
	WebhookDeliveriesStarted int   `json:"webhook_deliveries_started"`
}

// SweepIdempotencyKeys deletes Idempotency-Keys older than 24 hours (the API
// already treats them as unknown), and with them the API's other short memory
// in PostgreSQL: failed-authentication counts older than an hour.
func (a *Activities) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := a.Store.SweepIdempotencyKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep idempotency keys: %w", err)
	}
	if _, err := a.Store.SweepAuthFailures(ctx); err != nil {
		return n, fmt.Errorf("sweep failed-authentication counts: %w", err)
	}
	return n, nil
}

// EnsureClickPartitions creates the click table's monthly partitions three
// months ahead, so a server that runs for months never writes into the default
// partition.
func (a *Activities) EnsureClickPartitions(ctx context.Context) error {
	return a.Store.EnsureClickPartitions(ctx, 3)
}
