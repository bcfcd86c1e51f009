package activities

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// TierReview is the tier review's verdict for one partner: the tier it is in and
// the highest tier whose criteria it meets over the trailing twelve months.
type TierReview struct {
	PartnerID  uuid.UUID `json:"partner_id"`
	WorkflowID string    `json:"workflow_id"`
	Rank       int32     `json:"rank"` // the partner's tier's rank now
	TierID     uuid.UUID `json:"tier_id"`
	TierName   string    `json:"tier_name"`
	TierRank   int32     `json:"tier_rank"`
	GraceDays  int32     `json:"grace_days"`
}

// ProgramsForTierReview: programs with more than one tier.
func (a *Activities) ProgramsForTierReview(ctx context.Context) ([]uuid.UUID, error) {
	return a.Store.ProgramsWithTiers(ctx)
}

// ReviewProgramTiers weighs every onboarded partner of the program against its
// tiers' criteria (pure rule: domain.QualifyingTier).
func (a *Activities) ReviewProgramTiers(ctx context.Context, programID uuid.UUID) ([]TierReview, error) {
	return a.reviewTiers(ctx, programID, uuid.NullUUID{})
}

// ReviewPartnerTier weighs one partner (at the end of its grace period).
func (a *Activities) ReviewPartnerTier(ctx context.Context, programID, partnerID uuid.UUID) (*TierReview, error) {
	out, err := a.reviewTiers(ctx, programID, uuid.NullUUID{UUID: partnerID, Valid: true})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

func (a *Activities) reviewTiers(ctx context.Context, programID uuid.UUID, partner uuid.NullUUID) ([]TierReview, error) {
	p, err := a.Store.GetProgram(ctx, programID)
	if err != nil {
		return nil, err
	}
	rows, err := a.Store.ListTiers(ctx, programID)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	tiers := make([]domain.TierCriteria, len(rows))
	manual := map[uuid.UUID]bool{}
	for i, t := range rows {
		tiers[i] = domain.TierCriteria{ID: t.ID, Name: t.Name, Rank: t.Rank, RequiredCertifications: t.RequiredCertifications,
			MinWonRevenue: t.MinWonRevenue.Ptr(), MinAffiliateRevenue: t.MinAffiliateRevenue.Ptr()}
		manual[t.ID] = i > 0 && tiers[i].Manual() // ListTiers is by rank: the first is the lowest
	}
	standings, err := a.Store.TierReviewStandings(ctx, db.TierReviewStandingsParams{ProgramID: programID, PartnerID: partner, Since: time.Now().AddDate(-1, 0, 0)})
	if err != nil {
		return nil, err
	}
	out := make([]TierReview, 0, len(standings))
	for _, s := range standings {
		if manual[s.TierID] { // a manager's to give and to take
			continue
		}
		q := domain.QualifyingTier(tiers, domain.TierStanding{WonRevenue: s.WonRevenue.Decimal, AffiliateRevenue: s.AffiliateRevenue.Decimal, Certifications: s.Certifications})
		out = append(out, TierReview{PartnerID: s.ID, WorkflowID: s.WorkflowID, Rank: s.TierRank, TierID: q.ID, TierName: q.Name, TierRank: q.Rank, GraceDays: p.TierReviewGraceDays})
	}
	return out, nil
}
