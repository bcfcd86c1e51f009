package activities

import (
	"context"
	"fmt"
	"time"

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
	err := a.inTxWithEvents(ctx, func(q *db.Queries, ev *events) error {
		if err := q.CreateNotification(ctx, db.CreateNotificationParams{
			DedupeKey: n.DedupeKey, Kind: n.Kind, Recipient: n.Recipient,
			SubjectType: n.SubjectType, SubjectID: n.SubjectID, Message: n.Message,
		}); err != nil {
			return err
		}
		partnerID, err := uuid.Parse(n.Recipient)
		if err != nil { // a role: no partner to tell
			return nil
		}
		p, err := q.GetPartner(ctx, partnerID)
		if err != nil {
			return err
		}
		return ev.publish(ctx, q, Event{ID: eventID("notification", n.DedupeKey), Type: "notification.created", ProgramID: p.ProgramID,
			PartnerID: uuid.NullUUID{UUID: p.ID, Valid: true}, At: time.Now(), Data: n})
	})
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.DedupeKey, err)
	}
	return nil
}
