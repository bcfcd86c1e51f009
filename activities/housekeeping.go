package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerops/partnerops/domain"
)

// Housekeeping is what the hourly housekeeping workflow did.
type Housekeeping struct {
	IdempotencyKeysSwept     int64    `json:"idempotency_keys_swept"`
	WebhookDeliveriesStarted int      `json:"webhook_deliveries_started"`
	ClickPartitionsDropped   []string `json:"click_partitions_dropped,omitempty"`
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

// DropOldClickPartitions drops the monthly click partitions older than the
// retention (ClickRetentionMonths; 0 keeps every click), never one inside a
// program's attribution window, and answers their names.
func (a *Activities) DropOldClickPartitions(ctx context.Context) ([]string, error) {
	window, err := a.Store.LongestCookieWindow(ctx)
	if err != nil {
		return nil, err
	}
	cutoff, ok := domain.ClickRetentionCutoff(time.Now(), a.ClickRetentionMonths, int(window))
	if !ok {
		return nil, nil
	}
	dropped, err := a.Store.DropClickPartitionsBefore(ctx, domain.NewDate(cutoff))
	if err != nil {
		return nil, fmt.Errorf("drop click partitions before %s: %w", cutoff.Format("2006-01"), err)
	}
	for _, name := range dropped {
		a.Logger.Info("click partition dropped (retention)", "partition", name, "retention_months", a.ClickRetentionMonths, "kept_from", cutoff.Format("2006-01-02"))
	}
	return dropped, nil
}

// EnsureClickPartitions creates the click table's monthly partitions three
// months ahead, so a server that runs for months never writes into the default
// partition.
func (a *Activities) EnsureClickPartitions(ctx context.Context) error {
	return a.Store.EnsureClickPartitions(ctx, 3)
}
