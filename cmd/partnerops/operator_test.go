//go:build e2e

package main

// What an operator reads in the Temporal UI: every workflow the product starts
// carries a static summary in business words and current details that say what
// it waits for (and until when), read here from the real server the way the UI
// reads them (DescribeWorkflowExecution's user metadata, the metadata query).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"

	"github.com/google/uuid"
)

// workflowTexts answers a workflow's static summary and current details.
func workflowTexts(workflowID string) (summary, details string, err error) {
	ctx := context.Background()
	d, err := sys.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return "", "", err
	}
	if p := d.GetExecutionConfig().GetUserMetadata().GetSummary(); p != nil {
		if err := converter.GetDefaultDataConverter().FromPayload(p, &summary); err != nil {
			return "", "", err
		}
	}
	v, err := sys.temporal.QueryWorkflow(ctx, workflowID, "", "__temporal_workflow_metadata")
	if err != nil {
		return summary, "", err
	}
	var md sdkpb.WorkflowMetadata
	err = v.Get(&md)
	return summary, md.GetCurrentDetails(), err
}

// expectTexts waits until the workflow's summary and details contain what is wanted.
func expectTexts(t *testing.T, what, workflowID string, summaryHas []string, detailsHas string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		summary, details, err := workflowTexts(workflowID)
		ok := err == nil && strings.Contains(details, detailsHas)
		for _, s := range summaryHas {
			ok = ok && strings.Contains(summary, s)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (%s): %v\n summary %q, want it to hold %q\n details %q, want %q", what, workflowID, err, summary, summaryHas, details, detailsHas)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEveryWorkflowSaysWhatItIsAndWhatItWaitsFor(t *testing.T) {
	var program string
	f := newProgram(t)
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT name FROM programs WHERE id = $1`, f.programID).Scan(&program); err != nil {
		t.Fatal(err)
	}

	// A partner's application, waiting for a manager.
	app := application(f, "reseller")
	pending := expect(t, do(t, call{method: "POST", path: "/v1/applications", body: app}), http.StatusCreated)
	expectTexts(t, "partner", ids.Partner(uuid.MustParse(pending.str("id"))), []string{app["company"].(string), "reseller", program},
		"waiting for a manager's review of the application, until ")

	// Approved: waiting for the terms.
	key := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + pending.str("id") + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK).str("api_key")
	expectTexts(t, "partner", ids.Partner(uuid.MustParse(pending.str("id"))), nil, "waiting for the partner to accept the terms (agreement 2026-01)")
	expect(t, do(t, call{method: "POST", path: "/v1/me/agreement", key: key, body: map[string]any{"version": "2026-01"}}), http.StatusOK)
	expectTexts(t, "partner", ids.Partner(uuid.MustParse(pending.str("id"))), nil, "waiting for the required certifications: sales-fundamentals")

	// A deal, waiting for a manager's decision within its SLA.
	partnerID, partnerKey := activePartner(t, f, "reseller")
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated)
	expectTexts(t, "deal", deal.str("workflow_id"), []string{company + " · 48,000.00 EUR · ", "(Registered)"}, "waiting for a manager's decision, until ")

	// MDF: the allocation waits for its quarter's end, a request for pre-approval.
	allocate(t, f, partnerID, "5000.00")
	quarter := domain.Quarter(time.Now())
	expectTexts(t, "MDF allocation", ids.MDFAllocation(uuid.MustParse(partnerID), quarter), []string{quarter + " MDF allocation"}, "waiting for the end of "+quarter)
	mdf := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: partnerKey, body: mdfBody("400.00")}), http.StatusCreated)
	expectTexts(t, "MDF request", mdf.str("workflow_id"), []string{"400.00 EUR", quarter}, "waiting for a manager's pre-approval, until ")

	// A flagged conversion, waiting for its review.
	af := affiliateProgram(t)
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: af.partnerKey}), http.StatusOK)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: af.manager, body: map[string]any{"partner_id": af.partnerID}}), http.StatusCreated).str("code")
	ext := "o-" + uuid.NewString()[:8]
	conv := expect(t, af.convert(t, map[string]any{"external_id": ext, "kind": "sale", "amount": "50.00", "coupon_code": coupon, "customer_email": me.str("email")}), http.StatusCreated)
	expectTexts(t, "conversion review", ids.ConversionReview(uuid.MustParse(conv.str("id"))), []string{ext, "50.00 EUR", "flagged: self_referral"},
		"waiting for a manager's decision on the flagged conversion, until ")

	// A close in review, then its payout waiting for the provider's confirmation.
	cf := closeProgram(t, "http")
	line(t, cf.programID, cf.a, "commission", "120.00", time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC), "payable")
	closeID := cf.start(t, "2026-09", http.StatusCreated).str("id")
	cl := waitClose(t, cf.finance, closeID, "review")
	expectTexts(t, "close", cl.str("workflow_id"), []string{"2026-09"}, "waiting for finance to review and sign off, until ")
	sys.pay.SetMode(fakepay.Mode{CallbackDelay: time.Hour}) // no callback: the payout waits and polls
	defer sys.pay.SetMode(fakepay.Mode{})
	expect(t, do(t, call{method: "POST", path: "/v1/closes/" + closeID + "/approve", key: cf.finance, body: map[string]any{}}), http.StatusOK)
	var payoutWF string
	eventually(t, "the payout to start", func() bool {
		ps := expect(t, do(t, call{method: "GET", path: "/v1/closes/" + closeID, key: cf.finance}), http.StatusOK).body["payouts"].([]any)
		if len(ps) == 1 {
			payoutWF = ps[0].(map[string]any)["workflow_id"].(string)
		}
		return payoutWF != ""
	})
	expectTexts(t, "payout", payoutWF, []string{"120.00 EUR → "}, "waiting for the provider's confirmation, until ")
	expectTexts(t, "close while paying", cl.str("workflow_id"), nil, "paying: 1 payouts, waiting for each to settle")

	// A webhook delivery to an endpoint that fails: retried with backoff.
	hook := newReceiver(t, http.StatusInternalServerError)
	expect(t, do(t, call{method: "POST", path: "/v1/webhook-endpoints", key: f.admin, body: map[string]any{"url": hook.URL, "program_id": f.programID}}), http.StatusCreated)
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal.str("id") + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	expectTexts(t, "deal", deal.str("workflow_id"), nil, "waiting for the partner's next move while protected")
	// The approval SLA's timer was cancelled when the decision came: one timer
	// runs now, the protection's.
	var started, ended, cancelled int
	it := sys.temporal.GetWorkflowHistory(context.Background(), deal.str("workflow_id"), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_TIMER_STARTED:
			started++
		case enums.EVENT_TYPE_TIMER_FIRED:
			ended++
		case enums.EVENT_TYPE_TIMER_CANCELED:
			ended++
			cancelled++
		}
	}
	if cancelled == 0 || started-ended != 1 {
		t.Fatalf("the deal's timers: %d started, %d fired or cancelled (%d cancelled)", started, ended, cancelled)
	}
	var delivery, eventType string
	eventually(t, "a webhook delivery", func() bool {
		return sys.store.Pool.QueryRow(context.Background(), `SELECT d.id::text, d.event_type FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE e.url = $1 AND d.runs > 0 ORDER BY d.created_at LIMIT 1`, hook.URL).Scan(&delivery, &eventType) == nil
	})
	host := strings.TrimPrefix(hook.URL, "http://")
	expectTexts(t, "webhook delivery", ids.WebhookDelivery(uuid.MustParse(delivery), 1), []string{eventType + " → " + host}, "delivering: each attempt is the activity below")

	recordHistory(t, deal.str("workflow_id"), "deal-approved-timer-cancelled")
	recordHistory(t, ids.WebhookDelivery(uuid.MustParse(delivery), 1), "webhook-delivery-retrying")
	recordHistory(t, payoutWF, "payout-waiting-for-provider")
	recordHistory(t, mdf.str("workflow_id"), "mdf-pending-approval")
}
