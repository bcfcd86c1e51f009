//go:build e2e

package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/partnerops/partnerops/client"
	"github.com/partnerops/partnerops/domain"
)

// bearer signs a generated client's requests with an API key.
func bearer(key string) client.ClientOption {
	return client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	})
}

// The Go client generated from the document (client/, oapi-codegen) drives the
// reseller onboarding and a deal registration end to end against the real
// server: typed requests, typed answers for success and error alike.
func TestGeneratedClientWalkthrough(t *testing.T) {
	ctx := context.Background()
	newClient := func(key string) *client.ClientWithResponses {
		c, err := client.NewClientWithResponses(sys.api.URL, bearer(key))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin := newClient(newKey(t, domain.RoleAdmin, uuid.Nil))
	manager := newClient(newKey(t, domain.RoleManager, uuid.Nil))
	anonymous, _ := client.NewClientWithResponses(sys.api.URL)

	// 1. The admin creates a channel program with two tiers.
	gold := "0.20"
	prog, err := admin.CreateProgramWithResponse(ctx, nil, client.ProgramInput{Name: "Client " + uuid.NewString()[:8], Kind: client.ProgramInputKindChannel,
		Currency: "EUR", Tiers: &[]client.TierInput{{Name: "Registered", Rank: 0}, {Name: "Gold", Rank: 2, DefaultMargin: &gold}}})
	if err != nil || prog.JSON201 == nil {
		t.Fatalf("create program: %v %d %s", err, prog.StatusCode(), prog.Body)
	}
	if prog.JSON201.Tiers == nil || len(*prog.JSON201.Tiers) != 2 || prog.JSON201.Currency != "EUR" {
		t.Fatalf("program: %+v", prog.JSON201)
	}

	// 2. A reseller applies (no key); a manager approves and its key comes back once.
	n := uuid.NewString()[:8]
	app, err := anonymous.CreateApplicationWithResponse(ctx, nil, client.Application{ProgramId: prog.JSON201.Id, Name: "Ola " + n,
		Email: openapi_types.Email("ola." + n + "@contoso.example"), Company: "Contoso " + n, WebsiteDomain: "contoso-" + n + ".example",
		PartnerType: client.ApplicationPartnerTypeReseller})
	if err != nil || app.JSON201 == nil || app.JSON201.Id == nil {
		t.Fatalf("apply: %v %d %s", err, app.StatusCode(), app.Body)
	}
	approved, err := manager.ApprovePartnerWithResponse(ctx, *app.JSON201.Id, nil, client.Decision{})
	if err != nil || approved.JSON200 == nil || approved.JSON200.ApiKey == nil {
		t.Fatalf("approve: %v %d %s", err, approved.StatusCode(), approved.Body)
	}
	partner := newClient(*approved.JSON200.ApiKey)
	accepted, err := partner.AcceptAgreementWithResponse(ctx, nil, client.AcceptAgreementJSONRequestBody{Version: "v1"})
	if err != nil || accepted.JSON200 == nil || accepted.JSON200.Status != "awaiting_certification" {
		t.Fatalf("agreement: %v %d %s", err, accepted.StatusCode(), accepted.Body)
	}
	// Resellers need sales-fundamentals: the manager records it, and the partner is active.
	cert, err := manager.RecordCertificationWithResponse(ctx, *app.JSON201.Id, nil, client.RecordCertificationJSONRequestBody{Name: "sales-fundamentals",
		PassedAt: openapi_types.Date{Time: time.Now().AddDate(0, 0, -1)}, ExpiresAt: openapi_types.Date{Time: time.Now().AddDate(1, 0, 0)}})
	if err != nil || cert.JSON201 == nil {
		t.Fatalf("certification: %v %d %s", err, cert.StatusCode(), cert.Body)
	}
	eventually(t, "the partner active", func() bool {
		me, err := partner.GetMeWithResponse(ctx)
		return err == nil && me.JSON200 != nil && me.JSON200.Status == domain.StatusActive
	})

	// 3. The reseller registers a deal; a bad one is a typed 422 naming its field.
	reg := client.DealRegistration{CustomerName: "Fabrikam " + n, CustomerDomain: "fabrikam-" + n + ".example", Country: "DE",
		ContactName: "Jo Buyer", ContactEmail: openapi_types.Email("jo@fabrikam-" + n + ".example"), EstimatedValue: "48000.00", Currency: "EUR",
		Products: []string{"platform"}, ExpectedCloseDate: openapi_types.Date{Time: time.Now().AddDate(0, 2, 0)}}
	bad := reg
	bad.EstimatedValue = "-1"
	if r, err := partner.CreateDealWithResponse(ctx, nil, bad); err != nil || r.JSON422 == nil || r.JSON422.Error.Field == nil || *r.JSON422.Error.Field != "estimated_value" {
		t.Fatalf("a negative value: %v %d %s", err, r.StatusCode(), r.Body)
	}
	deal, err := partner.CreateDealWithResponse(ctx, nil, reg)
	if err != nil || deal.JSON201 == nil || deal.JSON201.Status != "pending_approval" {
		t.Fatalf("register: %v %d %s", err, deal.StatusCode(), deal.Body)
	}
	if got := deal.JSON201.ExpectedCloseDate.Format("2006-01-02"); got != reg.ExpectedCloseDate.Format("2006-01-02") {
		t.Fatalf("expected close date %s, sent %s", got, reg.ExpectedCloseDate)
	}

	// 4. The manager approves it at a negotiated margin: protected.
	margin := "0.18"
	ok, err := manager.ApproveDealWithResponse(ctx, deal.JSON201.Id, nil, client.ApproveDealJSONRequestBody{Margin: &margin})
	if err != nil || ok.JSON200 == nil || ok.JSON200.Status != "approved" || ok.JSON200.ProtectedUntil == nil {
		t.Fatalf("approve deal: %v %d %s", err, ok.StatusCode(), ok.Body)
	}
	// Another partner's deal is not the partner's to read: a typed 404.
	if r, err := partner.GetDealWithResponse(ctx, uuid.Must(uuid.NewV7())); err != nil || r.JSON404 == nil {
		t.Fatalf("an unknown deal: %v %d %s", err, r.StatusCode(), r.Body)
	}
}
