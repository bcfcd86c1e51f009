// Package activities holds partnerops' durable side effects, grouped by what they
// touch. Each activity is one transaction or one outbound call, idempotent by a
// business key, so Temporal may retry it freely.
package activities

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/db"
)

// Activities is registered once with the worker; workflows call its methods
// through a nil *Activities so the names survive refactors.
type Activities struct {
	Store    *db.Store
	Logger   *slog.Logger
	Payments Payments
	// Temporal starts webhook deliveries' workflows on TaskQueue (nil: the
	// housekeeping sweep never runs and deliveries wait).
	Temporal  client.Client
	TaskQueue string
	// WebhookAllowPrivate lets deliveries reach loopback and private addresses
	// (make run's demo mode and tests); never in production.
	WebhookAllowPrivate bool
	// ClickRetentionMonths: how many months of clicks housekeeping keeps (0:
	// all); never fewer than any program's attribution window needs.
	ClickRetentionMonths int
	// Mail sends notification e-mail (nil: e-mail off; SMTP_URL sets it).
	Mail *Mailer

	hookOnce   sync.Once
	hookClient *http.Client
}

// heartbeatEvery is how often a long activity tells Temporal it is alive; the
// workflows give such activities a HeartbeatTimeout a few times longer, so a
// worker that dies mid-activity is noticed (and the activity retried on another
// worker) within seconds instead of at its start-to-close timeout.
const heartbeatEvery = 5 * time.Second

// heartbeating runs fn while heartbeating in the background (outside an
// activity — the API recomputing statements — it just runs fn).
func heartbeating[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if !activity.IsActivity(ctx) {
		return fn()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	activity.RecordHeartbeat(ctx)
	return fn()
}
