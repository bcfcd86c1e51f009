package domain

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Workflow summaries: the one line an operator reads for each process in the
// Temporal UI's list, in business words (the id says which record; this says
// what it is about).

// GroupThousands writes a plain decimal string with thousands separators: 25000.00 → 25,000.00.
func GroupThousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// FormatAmount is an amount at its currency's minor unit, grouped, with the currency: 25,000.00 USD.
func FormatAmount(amount decimal.Decimal, currency string) string {
	return GroupThousands(amount.StringFixed(MinorUnits(currency))) + " " + currency
}

func join(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, " · ")
}

// PartnerSummary: "Gamma Pending · reseller · T3 Channel".
func PartnerSummary(company, partnerType, program string) string {
	return join(company, strings.ReplaceAll(partnerType, "_", " "), program)
}

// DealSummary: "Initrode AG · 25,000.00 USD · Beta Systems (Gold)".
func DealSummary(customer string, value decimal.Decimal, currency, partner, tier string) string {
	if tier != "" {
		partner += " (" + tier + ")"
	}
	return join(customer, FormatAmount(value, currency), partner)
}

// MDFSummary: "trade show · 4,000.00 EUR · Beta Systems · 2026-Q4".
func MDFSummary(activityType string, amount decimal.Decimal, currency, partner, quarter string) string {
	return join(strings.ReplaceAll(activityType, "_", " "), FormatAmount(amount, currency), partner, quarter)
}

// MDFAllocationSummary: "Beta Systems · 2026-Q4 MDF allocation".
func MDFAllocationSummary(partner, quarter string) string {
	return join(partner, quarter+" MDF allocation")
}

// ReviewSummary: "order-1234 · 400.00 USD · Cy Media · flagged: click_too_fast".
func ReviewSummary(externalID string, amount decimal.Decimal, currency, partner string, flags []string) string {
	return join(externalID, FormatAmount(amount, currency), partner, "flagged: "+strings.Join(flags, ", "))
}

// CloseSummary: "T3 Affiliates · 2026-11".
func CloseSummary(program string, month time.Time) string {
	return join(program, month.Format("2006-01"))
}

// PayoutSummary: "110.00 USD → Cy Media".
func PayoutSummary(amount decimal.Decimal, currency, partner string) string {
	return FormatAmount(amount, currency) + " → " + partner
}

// WebhookSummary: "deal.approved → hooks.example.com, run 2" (the host only: a path may carry a token).
func WebhookSummary(eventType, endpoint string, run int32) string {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	s := eventType + " → " + host
	if run > 1 {
		s += fmt.Sprintf(", run %d", run)
	}
	return s
}

// EmailSummary: "deal won rejected e-mail → ana@northwind.example" (a kind's
// sequence number, deal_won_rejected_3, is left out).
func EmailSummary(kind, to string) string {
	if i := strings.LastIndexByte(kind, '_'); i > 0 && strings.Trim(kind[i+1:], "0123456789") == "" && i+1 < len(kind) {
		kind = kind[:i]
	}
	return strings.ReplaceAll(kind, "_", " ") + " e-mail → " + to
}
