package domain

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestWorkflowSummaries(t *testing.T) {
	d := decimal.RequireFromString
	for got, want := range map[string]string{
		PartnerSummary("Gamma Pending", "reseller", "T3 Channel"):                                          "Gamma Pending · reseller · T3 Channel",
		DealSummary("Initrode AG", d("25000"), "USD", "Beta Systems", "Gold"):                              "Initrode AG · 25,000.00 USD · Beta Systems (Gold)",
		DealSummary("Initrode AG", d("1234567.5"), "JPY", "Beta Systems", ""):                              "Initrode AG · 1,234,568 JPY · Beta Systems",
		MDFSummary("trade_show", d("4000"), "EUR", "Beta Systems", "2026-Q4"):                              "trade show · 4,000.00 EUR · Beta Systems · 2026-Q4",
		MDFAllocationSummary("Beta Systems", "2026-Q4"):                                                    "Beta Systems · 2026-Q4 MDF allocation",
		ReviewSummary("order-1", d("400"), "USD", "Cy Media", []string{"click_too_fast", "self_referral"}): "order-1 · 400.00 USD · Cy Media · flagged: click_too_fast, self_referral",
		CloseSummary("T3 Affiliates", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)):                        "T3 Affiliates · 2026-11",
		PayoutSummary(d("110"), "USD", "Cy Media"):                                                         "110.00 USD → Cy Media",
		WebhookSummary("deal.approved", "https://hooks.example.com/in?token=secret", 3):                    "deal.approved → hooks.example.com, run 3",
		WebhookSummary("deal.approved", "https://hooks.example.com/in", 1):                                 "deal.approved → hooks.example.com",
		EmailSummary("deal_won_rejected_3", "ana@northwind.example"):                                       "deal won rejected e-mail → ana@northwind.example",
		EmailSummary("tier_changed", "ana@northwind.example"):                                              "tier changed e-mail → ana@northwind.example",
		GroupThousands("-1234.50"):                                                                         "-1,234.50",
		GroupThousands("999"):                                                                              "999",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
