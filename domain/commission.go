package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Conversion kinds.
const (
	KindLead         = "lead"
	KindSale         = "sale"
	KindSubscription = "subscription_payment"
	KindRefund       = "refund"
)

// VolumeTier raises a percent rule's rate from the FromCount-th sale of a
// partner in a calendar month (e.g. 20% up to 10 sales, 25% from the 11th).
type VolumeTier struct {
	FromCount int             `json:"from_count"`
	Rate      decimal.Decimal `json:"rate"`
}

// CommissionRule is one effective-dated rule at program, tier or partner level.
type CommissionRule struct {
	ID              uuid.UUID       `json:"id"`
	TierID          uuid.NullUUID   `json:"tier_id"`
	PartnerID       uuid.NullUUID   `json:"partner_id"`
	Event           string          `json:"event"` // sale or lead (subscription payments are sales)
	Kind            string          `json:"kind"`  // percent or flat
	Rate            decimal.Decimal `json:"rate"`
	Amount          decimal.Decimal `json:"amount"`
	VolumeTiers     []VolumeTier    `json:"volume_tiers"`
	Recurring       string          `json:"recurring"` // none, months, lifetime
	RecurringMonths int             `json:"recurring_months"`
	EffectiveFrom   time.Time       `json:"effective_from"`
	EffectiveTo     *time.Time      `json:"effective_to"`
}

func (r CommissionRule) level() int {
	switch {
	case r.PartnerID.Valid:
		return 3
	case r.TierID.Valid:
		return 2
	}
	return 1
}

// SelectRule finds the rule in force at the event's time for the partner:
// partner rules over tier rules over program rules; at one level, the latest
// effective_from. Rules for another partner or tier never apply.
func SelectRule(rules []CommissionRule, partnerID, tierID uuid.UUID, event string, at time.Time) (CommissionRule, bool) {
	var best CommissionRule
	found := false
	for _, r := range rules {
		if r.Event != event || at.Before(r.EffectiveFrom) || (r.EffectiveTo != nil && !at.Before(*r.EffectiveTo)) {
			continue
		}
		if (r.PartnerID.Valid && r.PartnerID.UUID != partnerID) || (r.TierID.Valid && r.TierID.UUID != tierID) {
			continue
		}
		if !found || r.level() > best.level() || (r.level() == best.level() && r.EffectiveFrom.After(best.EffectiveFrom)) {
			best, found = r, true
		}
	}
	return best, found
}

// CommissionInput is a conversion as the commission rule sees it.
type CommissionInput struct {
	Kind     string
	Amount   decimal.Decimal // the sale or payment amount (zero for leads)
	Currency string
	// MonthSales counts the partner's sales in the conversion's calendar month,
	// this one included (for volume tiers).
	MonthSales int
	// SinceFirst is the time since the customer's first conversion with this
	// partner (for recurring payments); FirstPayment marks the first one.
	SinceFirst   time.Duration
	FirstPayment bool
}

// Commission computes the commission for one conversion under a rule, rounded
// half-even to the currency's minor unit. ok is false when the rule pays nothing
// for it (a recurring payment past its months, a percent rule on a lead).
func Commission(r CommissionRule, in CommissionInput) (decimal.Decimal, bool, string) {
	if in.Kind == KindSubscription && !in.FirstPayment {
		switch r.Recurring {
		case "lifetime":
		case "months":
			if in.SinceFirst >= time.Duration(r.RecurringMonths)*30*24*time.Hour {
				return decimal.Zero, false, fmt.Sprintf("recurring commission ended after %d months", r.RecurringMonths)
			}
		default:
			return decimal.Zero, false, "the rule pays no recurring commission"
		}
	}
	switch r.Kind {
	case "flat":
		return RoundMoney(r.Amount, in.Currency), true, ""
	case "percent":
		if !in.Amount.IsPositive() {
			return decimal.Zero, false, "a percent rule needs an amount"
		}
		rate := r.Rate
		for _, t := range r.VolumeTiers {
			if in.MonthSales >= t.FromCount {
				rate = t.Rate
			}
		}
		return RoundMoney(in.Amount.Mul(rate), in.Currency), true, ""
	}
	return decimal.Zero, false, "unknown rule kind " + r.Kind
}

// ProRate is the part of a commission a partial refund takes back, rounded.
func ProRate(commission, refunded, saleAmount decimal.Decimal, currency string) decimal.Decimal {
	if !saleAmount.IsPositive() || refunded.GreaterThanOrEqual(saleAmount) {
		return commission
	}
	return RoundMoney(commission.Mul(refunded).Div(saleAmount), currency)
}

// ClawbackDue is what a refund takes back from a commission line, pro-rated
// cumulatively: afterwards the line's clawbacks add up to round(line × refunded
// so far ÷ sale), the whole line once the whole sale is refunded. Pro-rating each
// part on its own would leave or take a cent (two halves of 2.53 are 1.26 each).
// clawedSoFar is what earlier refunds took back (positive).
func ClawbackDue(line, clawedSoFar, refundedSoFar, saleAmount decimal.Decimal, currency string) decimal.Decimal {
	due := ProRate(line, refundedSoFar, saleAmount, currency).Sub(clawedSoFar)
	if due.IsNegative() {
		return decimal.Zero
	}
	return due
}

// LineFrozen reports whether a money line is beyond change: a close has frozen it
// (it may be awaiting sign-off, carried over, or paid). A correction of a frozen
// line is a new line (a clawback), never a change of this one.
func LineFrozen(status string, inClose bool) bool { return inClose || status == "paid" }
