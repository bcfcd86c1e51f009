package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// PartnerPolicy is what onboarding needs to know of the partner's program and tier,
// read once when the workflow starts.
type PartnerPolicy struct {
	ReviewSLA              time.Duration `json:"review_sla"`
	AgreementVersion       string        `json:"agreement_version"`
	RequiredCertifications []string      `json:"required_certifications"`
}

func (a *Activities) LoadPartnerPolicy(ctx context.Context, partnerID uuid.UUID) (PartnerPolicy, error) {
	p, err := a.Store.GetPartner(ctx, partnerID)
	if errors.Is(err, pgx.ErrNoRows) {
		// The workflow is started after the partner's row commits (package
		// starts): a missing row never appears later.
		return PartnerPolicy{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("partner %s does not exist", partnerID), "not_found", err)
	}
	if err != nil {
		return PartnerPolicy{}, fmt.Errorf("load partner %s: %w", partnerID, err)
	}
	prog, err := a.Store.GetProgram(ctx, p.ProgramID)
	if err != nil {
		return PartnerPolicy{}, fmt.Errorf("load program %s: %w", p.ProgramID, err)
	}
	tier, err := a.Store.GetTier(ctx, p.TierID)
	if err != nil {
		return PartnerPolicy{}, fmt.Errorf("load tier %s: %w", p.TierID, err)
	}
	rows, err := a.Store.ListProgramCertifications(ctx, p.ProgramID)
	if err != nil {
		return PartnerPolicy{}, fmt.Errorf("load program certifications: %w", err)
	}
	byType := map[string][]string{}
	for _, r := range rows {
		byType[r.PartnerType] = append(byType[r.PartnerType], r.Certification)
	}
	return PartnerPolicy{
		ReviewSLA:              time.Duration(prog.ReviewSLAHours) * time.Hour,
		AgreementVersion:       prog.AgreementVersion,
		RequiredCertifications: domain.RequiredCertifications(p.PartnerType, byType, tier.RequiredCertifications),
	}, nil
}

// PartnerChangeKind names a step of the partner process: the workflow records it, RecordPartnerChange
// carries it out, and it is the kind of the timeline event. One list, shared.
type PartnerChangeKind string

const (
	PartnerChangeApproved          PartnerChangeKind = "approved"
	PartnerChangeRejected          PartnerChangeKind = "rejected"
	PartnerChangeAgreementAccepted PartnerChangeKind = "agreement_accepted"
	PartnerChangeCertified         PartnerChangeKind = "certified"
	PartnerChangeActivated         PartnerChangeKind = "activated"
	PartnerChangeReinstated        PartnerChangeKind = "reinstated"
	PartnerChangeLapsed            PartnerChangeKind = "lapsed"
	PartnerChangeTierChanged       PartnerChangeKind = "tier_changed"
)

// PartnerChange is one step of a partner's onboarding or lifecycle: a new status and
// the timeline event that explains it, written together.
type PartnerChange struct {
	PartnerID uuid.UUID         `json:"partner_id"`
	EventKey  string            `json:"event_key"` // deterministic, so a retried activity writes once
	Kind      PartnerChangeKind `json:"kind"`      // approved, rejected, agreement_accepted, certified, activated, lapsed, ...
	Status    string            `json:"status"`
	Actor     string            `json:"actor"`
	Reason    string            `json:"reason"`
	At        time.Time         `json:"at"`

	AgreementVersion string                `json:"agreement_version,omitempty"` // with agreement_accepted
	APIKeyID         *uuid.UUID            `json:"api_key_id,omitempty"`        // with approved: the partner's first key, activated here
	Certification    *domain.Certification `json:"certification,omitempty"`     // with certified
	TierID           *uuid.UUID            `json:"tier_id,omitempty"`           // with tier_changed
}

func (a *Activities) RecordPartnerChange(ctx context.Context, c PartnerChange) error {
	return a.inTxWithEvents(ctx, func(q *db.Queries, ev *events) error {
		var err error
		switch c.Kind {
		case PartnerChangeApproved, PartnerChangeRejected:
			var reason *string // the approval's note stays in the timeline
			if c.Kind == PartnerChangeRejected {
				reason = &c.Reason
			}
			err = q.SetPartnerDecision(ctx, db.SetPartnerDecisionParams{ID: c.PartnerID, Status: c.Status, DecidedBy: &c.Actor, DecidedAt: &c.At, RejectReason: reason})
			if err == nil && c.APIKeyID != nil {
				var n int64
				n, err = q.ActivateAPIKey(ctx, db.ActivateAPIKeyParams{ID: *c.APIKeyID, PartnerID: uuid.NullUUID{UUID: c.PartnerID, Valid: true}, At: c.At})
				if err == nil && n == 0 {
					err = temporal.NewNonRetryableApplicationError("the approval names an API key that is not this partner's", ErrPermanent, nil)
				}
			}
		case PartnerChangeAgreementAccepted:
			err = q.SetPartnerAgreement(ctx, db.SetPartnerAgreementParams{ID: c.PartnerID, AgreementVersion: &c.AgreementVersion, AgreementAcceptedAt: &c.At, Status: c.Status})
		case PartnerChangeCertified:
			if c.Certification == nil {
				return temporal.NewNonRetryableApplicationError("certified change without a certification", "invalid", nil)
			}
			_, err = q.RecordCertification(ctx, db.RecordCertificationParams{
				ID: uuid.Must(uuid.NewV7()), PartnerID: c.PartnerID, Name: c.Certification.Name,
				PassedAt: domain.NewDate(c.Certification.PassedAt), ExpiresAt: domain.NewDate(c.Certification.ExpiresAt), RecordedBy: c.Actor,
			})
		case PartnerChangeTierChanged:
			if c.TierID == nil {
				return temporal.NewNonRetryableApplicationError("tier change without a tier", ErrPermanent, nil)
			}
			var n int64
			if n, err = q.SetPartnerTier(ctx, db.SetPartnerTierParams{ID: c.PartnerID, TierID: *c.TierID}); err == nil && n == 0 {
				return temporal.NewNonRetryableApplicationError("the tier is not one of the partner's program", ErrPermanent, nil)
			}
		default:
			err = q.SetPartnerStatus(ctx, db.SetPartnerStatusParams{ID: c.PartnerID, Status: c.Status, At: c.At})
		}
		if err != nil {
			return fmt.Errorf("record %s for partner %s: %w", c.Kind, c.PartnerID, err)
		}
		if err := q.RecordPartnerEvent(ctx, db.RecordPartnerEventParams{
			PartnerID: c.PartnerID, EventKey: c.EventKey, Kind: string(c.Kind), Actor: c.Actor, Reason: c.Reason, OccurredAt: c.At,
		}); err != nil {
			return err
		}
		if c.Kind != PartnerChangeApproved && c.Kind != PartnerChangeRejected && c.Kind != PartnerChangeTierChanged {
			return nil
		}
		p, err := q.GetPartner(ctx, c.PartnerID)
		if err != nil {
			return err
		}
		return ev.publish(ctx, q, Event{ID: eventID(ids.Partner(c.PartnerID), c.EventKey, string(c.Kind)), Type: "partner." + string(c.Kind),
			ProgramID: p.ProgramID, PartnerID: uuid.NullUUID{UUID: p.ID, Valid: true}, At: c.At,
			Data: map[string]any{"partner_id": p.ID, "status": p.Status, "company": p.Company, "tier_id": p.TierID, "reason": c.Reason}})
	})
}
