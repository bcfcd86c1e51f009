package domain

import (
	"slices"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// TierCriteria is what a tier asks of its partners over the trailing twelve
// months (nil: nothing) and the certifications they must hold.
type TierCriteria struct {
	ID                     uuid.UUID
	Name                   string
	Rank                   int32
	MinWonRevenue          *decimal.Decimal
	MinAffiliateRevenue    *decimal.Decimal
	RequiredCertifications []string
}

// TierStanding is what a partner brings to the tier review.
type TierStanding struct {
	WonRevenue       decimal.Decimal
	AffiliateRevenue decimal.Decimal
	Certifications   []string // valid today
}

// Meets reports whether the standing satisfies every criterion of the tier.
func (t TierCriteria) Meets(s TierStanding) bool {
	if t.MinWonRevenue != nil && s.WonRevenue.LessThan(*t.MinWonRevenue) {
		return false
	}
	if t.MinAffiliateRevenue != nil && s.AffiliateRevenue.LessThan(*t.MinAffiliateRevenue) {
		return false
	}
	for _, c := range t.RequiredCertifications {
		if !slices.Contains(s.Certifications, c) {
			return false
		}
	}
	return true
}

// Manual: a tier that asks nothing is reached only by a manager's move; the
// review neither promotes into it nor demotes out of it.
func (t TierCriteria) Manual() bool {
	return t.MinWonRevenue == nil && t.MinAffiliateRevenue == nil && len(t.RequiredCertifications) == 0
}

// QualifyingTier is the highest-ranked tier (manual ones aside) whose criteria
// the standing meets; the lowest tier always qualifies (every partner has a
// tier). tiers must not be empty.
func QualifyingTier(tiers []TierCriteria, s TierStanding) TierCriteria {
	sorted := slices.Clone(tiers)
	slices.SortFunc(sorted, func(a, b TierCriteria) int { return int(b.Rank - a.Rank) })
	for _, t := range sorted[:len(sorted)-1] {
		if !t.Manual() && t.Meets(s) {
			return t
		}
	}
	return sorted[len(sorted)-1]
}
