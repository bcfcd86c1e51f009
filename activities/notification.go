package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
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
	var email *Email
	err := a.inTxWithEvents(ctx, func(q *db.Queries, ev *events) error {
		email = nil
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
		if a.Mail != nil && !slices.Contains(p.EmailMuted, MuteKey(n.Kind)) {
			prog, err := q.GetProgram(ctx, p.ProgramID)
			if err != nil {
				return err
			}
			email = &Email{To: p.Email, Name: p.Name, Program: prog.Name, Kind: n.Kind, Message: n.Message, DedupeKey: n.DedupeKey}
		}
		return ev.publish(ctx, q, Event{ID: eventID("notification", n.DedupeKey), Type: "notification.created", ProgramID: p.ProgramID,
			PartnerID: uuid.NullUUID{UUID: p.ID, Valid: true}, At: time.Now(), Data: n})
	})
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.DedupeKey, err)
	}
	if email != nil && a.Temporal != nil {
		// One e-mail per notification: the workflow id is the notification's key.
		sum := sha256.Sum256([]byte(n.DedupeKey))
		_, err := a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "email-" + hex.EncodeToString(sum[:12]), TaskQueue: a.TaskQueue,
			StaticSummary:            domain.EmailSummary(email.Kind, email.To),
			WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
			EmailDeliveryWorkflow, *email)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("start the e-mail of %s: %w", n.DedupeKey, err)
		}
	}
	return nil
}
