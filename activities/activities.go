// Package activities holds partnerops' durable side effects, grouped by what they
// touch. Each activity is one transaction or one outbound call, idempotent by a
// business key, so Temporal may retry it freely.
package activities

import (
	"log/slog"

	"github.com/partnerops/partnerops/db"
)

// Activities is registered once with the worker; workflows call its methods
// through a nil *Activities so the names survive refactors.
type Activities struct {
	Store    *db.Store
	Logger   *slog.Logger
	Payments Payments
}
