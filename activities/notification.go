package activities

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// Notification is a row in the outbox: a reminder or escalation for a role or a
// partner, delivered later as webhooks and e-mail.
type Notification struct {
	DedupeKey   string    `json:"dedupe_key"`
	Kind        string    `json:"kind"` // e.g. review_reminder, review_escalation
	Recipient   string    `json:"recipient"`
	SubjectType string    `json:"subject_type"`
	SubjectID   uuid.UUID `json:"subject_id"`
	Message     string    `json:"message"`
}

func (a *Activities) Notify(ctx context.Context, n Notification) error {
	err := a.Store.CreateNotification(ctx, db.CreateNotificationParams{
		DedupeKey: n.DedupeKey, Kind: n.Kind, Recipient: n.Recipient,
		SubjectType: n.SubjectType, SubjectID: n.SubjectID, Message: n.Message,
	})
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.DedupeKey, err)
	}
	return nil
}
