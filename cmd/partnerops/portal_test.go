//go:build e2e

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
	"github.com/partnerops/partnerops/db"
)

// The portal in a real browser (Debian's headless Chromium), against the real
// PostgreSQL, Temporal server, worker and SMTP catcher: people sign in with the
// link they are mailed and do their jobs through the pages; each journey checks
// what the page shows, what the database holds and what the workflow says.

var signInLink = regexp.MustCompile(`https?://[^\s"<>]+/login/confirm\?[^\s"<>]+`)

// mailedLink waits for a sign-in e-mail to address sent after since and answers its link.
func mailedLink(t *testing.T, address string, since time.Time) string {
	t.Helper()
	var link string
	eventually(t, "a sign-in e-mail to "+address, func() bool {
		for _, m := range sys.mail.Messages() {
			if len(m.To) == 1 && m.To[0] == address && !m.At.Before(since) && strings.Contains(m.Subject, "sign-in link") {
				link = signInLink.FindString(m.Text)
			}
		}
		return link != ""
	})
	return link
}

// signIn asks for a link on the sign-in page, opens the mailed link and presses
// Sign in; the browser ends on the role's start page.
func signIn(t *testing.T, ctx context.Context, address string) {
	t.Helper()
	since := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Navigate(sys.api.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), address),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sent")),
	)
	if err != nil {
		t.Fatalf("ask for a sign-in link: %v", err)
	}
	link := mailedLink(t, address, since)
	err = chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
	)
	if err != nil {
		t.Fatalf("open the sign-in link: %v", err)
	}
	if who := browse(t, ctx, chromedp.Text(chromedp.CSS(".whoami span"))); !strings.HasPrefix(who, address) {
		t.Fatalf("signed in as %q, want %s", who, address)
	}
}

// open navigates to a page and waits for its heading.
func open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(sys.api.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1"))); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
}

// submit clicks a form's button and waits for the page it leads to to show text.
func submit(t *testing.T, ctx context.Context, button, want string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatalf("click %s: %v", button, err)
	}
	waitFor(t, ctx, want)
}

// waitFor waits until the page's main part shows text; a navigation on the way
// is expected (a form answers with a redirect), so errors only end the wait at
// the deadline.
func waitFor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitJS(t, ctx, `(document.querySelector("main") && document.querySelector("main").innerText.includes(`+jsString(want)+`)) || false`, want)
}

// waitJS waits until a JavaScript condition holds on the current page, across navigations.
func waitJS(t *testing.T, ctx context.Context, cond, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			main, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("the page never showed %q (%v); it shows:\n%s", want, err, main)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

func fill(t *testing.T, ctx context.Context, fields map[string]string) {
	t.Helper()
	for id, v := range fields {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID(id), v)); err != nil {
			t.Fatalf("fill %s: %v", id, err)
		}
	}
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return browse(t, ctx, chromedp.Text(chromedp.CSS("main")))
}

// screenshot keeps a full-page picture of the current page under
// SCREENSHOTS_DIR (make screenshots: docs/screenshots), else .data/screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		dir = "../../.data/screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatal(err)
	}
	png := browse(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// portalUser adds a staff user through the API (the admin's way).
func portalUser(t *testing.T, admin, role string) string {
	t.Helper()
	address := role + "." + strings.ToLower(uuid.NewString()[:8]) + "@vendor.example"
	expect(t, do(t, call{method: "POST", path: "/v1/users", key: admin, body: map[string]any{"email": address, "name": "Test " + role, "role": role}}), http.StatusCreated)
	return address
}

// queryStatus asks a workflow for its status (every process answers "status").
func queryStatus(t *testing.T, workflowID string) string {
	t.Helper()
	v, err := sys.temporal.QueryWorkflow(context.Background(), workflowID, "", "status")
	if err != nil {
		t.Fatalf("query %s: %v", workflowID, err)
	}
	var st struct{ Status string }
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st.Status
}

func idFromURL(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	loc := browse(t, ctx, chromedp.Location())
	u, _ := url.Parse(loc)
	id, ok := strings.CutPrefix(u.Path, prefix)
	if !ok || uuid.Validate(id) != nil {
		t.Fatalf("the page is %s, not %s<id>", loc, prefix)
	}
	return id
}

// A reseller registers a deal and asks for MDF; a manager approves both from
// the inbox; the reseller files the claim with a proof file; the manager
// approves the claim.
func TestPortalPartnerAndManagerJourneys(t *testing.T) {
	f := newProgram(t)
	partnerID, partnerKey := activePartner(t, f, "reseller")
	allocate(t, f, partnerID, "5000.00")
	partnerEmail := expect(t, do(t, call{method: "GET", path: "/v1/me", key: partnerKey}), http.StatusOK).str("email")
	managerEmail := portalUser(t, f.admin, "manager")

	partner := newBrowser(t)
	signIn(t, partner, partnerEmail) // the application's address: its first user is made on the way
	home := pageText(t, partner)
	for _, want := range []string{"active", "Registered", "Earnings (EUR)", "5,000.00 EUR available", "Next payout: with the close of " + time.Now().UTC().Format("January 2006")} {
		if !strings.Contains(home, want) {
			t.Fatalf("the dashboard lacks %q:\n%s", want, home)
		}
	}
	screenshot(t, partner, "partner-dashboard")

	// Register a deal; a repeat registration comes back on the form with the API's answer.
	company, dom := uniqueCompany()
	open(t, partner, "/deals")
	deal := map[string]string{"customer_name": company, "customer_domain": dom, "country": "DE", "contact_name": "Jana Weber",
		"contact_email": "jana@" + dom, "estimated_value": "48000.00", "products": "Platform, Support", "expected_close_date": time.Now().UTC().AddDate(0, 2, 0).Format(time.DateOnly)}
	if err := chromedp.Do(partner, chromedp.Click(chromedp.CSS("details summary"))); err != nil {
		t.Fatal(err)
	}
	fill(t, partner, deal)
	screenshot(t, partner, "partner-register-deal")
	submit(t, partner, "#register-deal button[type=submit]", "Deal registered")
	dealID := idFromURL(t, partner, "/deals/")
	d, err := sys.store.GetDeal(context.Background(), uuid.MustParse(dealID))
	if err != nil || d.Status != "pending_approval" || d.CustomerName != company || d.EstimatedValue.String() != "48000" && d.EstimatedValue.StringFixed(2) != "48000.00" {
		t.Fatalf("the deal in the database: %+v %v", d, err)
	}
	open(t, partner, "/deals")
	if err := chromedp.Do(partner, chromedp.Click(chromedp.CSS("details summary"))); err != nil {
		t.Fatal(err)
	}
	fill(t, partner, deal)
	submit(t, partner, "#register-deal button[type=submit]", "you already have an open registration for "+dom)
	if v := browse(t, partner, chromedp.Value(chromedp.ID("customer_name"))); v != company {
		t.Fatalf("the refused form was not kept: customer_name %q", v)
	}

	// Ask for MDF.
	open(t, partner, "/mdf")
	if err := chromedp.Do(partner, chromedp.Click(chromedp.CSS("details summary"))); err != nil {
		t.Fatal(err)
	}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	fill(t, partner, map[string]string{"description": "Roadshow " + company, "start_date": yesterday, "end_date": yesterday, "amount": "1200.00", "leads": "40"})
	submit(t, partner, "#request-mdf button[type=submit]", "MDF request sent")
	mdfID := idFromURL(t, partner, "/mdf/")

	// The manager's inbox has both; each opens its decision form.
	manager := newBrowser(t)
	signIn(t, manager, managerEmail)
	open(t, manager, "/?program_id="+f.programID)
	inbox := pageText(t, manager)
	if !strings.Contains(inbox, company) || !strings.Contains(inbox, "Roadshow "+company) {
		t.Fatalf("the inbox lacks the deal or the MDF request:\n%s", inbox)
	}
	screenshot(t, manager, "manager-inbox")
	if err := chromedp.Do(manager, chromedp.Click(chromedp.CSS(`a[href="/deals/`+dealID+`"]`)), chromedp.WaitVisible(chromedp.ID("approve-form"))); err != nil {
		t.Fatal(err)
	}
	if href := browse(t, manager, chromedp.Evaluate[string](`document.getElementById("workflow-link").href`)); href != "http://temporal-ui.test/namespaces/default/workflows/deal-"+dealID {
		t.Fatalf("the workflow link: %s", href)
	}
	fill(t, manager, map[string]string{"margin": "0.18", "approve-reason": "first registration"})
	screenshot(t, manager, "manager-deal-decision")
	submit(t, manager, "#approve", "Deal approved")
	if st := browse(t, manager, chromedp.Text(chromedp.ID("deal-status"))); st != "approved" {
		t.Fatalf("the page shows %q", st)
	}
	d, _ = sys.store.GetDeal(context.Background(), uuid.MustParse(dealID))
	if d.Status != "approved" || d.Margin.Decimal.String() != "0.18" || d.ProtectedUntil == nil {
		t.Fatalf("the approved deal in the database: %+v", d)
	}
	if st := queryStatus(t, d.WorkflowID); st != "approved" {
		t.Fatalf("the deal workflow says %q", st)
	}
	var actor string
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT actor FROM audit_events WHERE record_id = $1 AND action = 'deal.approve'`, d.ID).Scan(&actor); err != nil || actor != "manager:"+managerEmail {
		t.Fatalf("the audit log's actor: %q %v", actor, err)
	}

	// The reseller asks for more time; the extension request waits in the inbox; the manager grants 15 days.
	open(t, partner, "/deals/"+dealID)
	fill(t, partner, map[string]string{"extension-reason": "the customer's board meets next month"})
	submit(t, partner, `form[action$="/extension"] button`, "Extension requested")
	open(t, manager, "/?kind=extension&program_id="+f.programID)
	if err := chromedp.Do(manager, chromedp.Click(chromedp.CSS(`a[href="/deals/`+dealID+`"]`)), chromedp.WaitVisible(chromedp.ID("pending-extension"))); err != nil {
		t.Fatal(err)
	}
	protected := *d.ProtectedUntil
	fill(t, manager, map[string]string{"days": "15"})
	submit(t, manager, `form[action$="/extension/approve"] button`, "Extension approved")
	d, _ = sys.store.GetDeal(context.Background(), uuid.MustParse(dealID))
	if d.ExtensionsUsed != 1 || d.ProtectedUntil.Sub(protected) != 15*24*time.Hour {
		t.Fatalf("after the extension: %d used, protected until %v (was %v)", d.ExtensionsUsed, d.ProtectedUntil, protected)
	}

	open(t, manager, "/?program_id="+f.programID)
	if err := chromedp.Do(manager, chromedp.Click(chromedp.CSS(`a[href="/mdf/`+mdfID+`"]`)), chromedp.WaitVisible(chromedp.ID("approve-form"))); err != nil {
		t.Fatal(err)
	}
	submit(t, manager, "#approve", "MDF request approved")

	// The reseller claims with a proof file.
	proof := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(proof, []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, partner, "/mdf/"+mdfID)
	fill(t, partner, map[string]string{"claim-amount": "1150.00", "claim-leads": "44"})
	if err := chromedp.Do(partner, chromedp.SetUploadFiles(chromedp.ID("claim-files"), []string{proof})); err != nil {
		t.Fatal(err)
	}
	screenshot(t, partner, "partner-mdf-claim")
	submit(t, partner, "#claim", "Claim filed")
	if files := browse(t, partner, chromedp.Text(chromedp.ID("files"))); !strings.Contains(files, "invoice.pdf") {
		t.Fatalf("the claim's files: %q", files)
	}
	m, err := sys.store.GetMDFRequest(context.Background(), uuid.MustParse(mdfID))
	if err != nil || m.Status != "claimed" || m.ClaimedAmount.Decimal.StringFixed(2) != "1150.00" {
		t.Fatalf("the claimed request: %+v %v", m, err)
	}

	// The manager approves the claim from the inbox; the proof opens from the page.
	open(t, manager, "/?kind=mdf_claim&program_id="+f.programID)
	if err := chromedp.Do(manager, chromedp.Click(chromedp.CSS(`a[href="/mdf/`+mdfID+`"]`)), chromedp.WaitVisible(chromedp.ID("approve-claim-form"))); err != nil {
		t.Fatal(err)
	}
	if n := browse(t, manager, chromedp.Evaluate[int](`document.querySelectorAll('#files a[href^="/mdf/`+mdfID+`/files/"]').length`)); n != 1 {
		t.Fatalf("the manager sees %d proof links", n)
	}
	screenshot(t, manager, "manager-mdf-claim")
	submit(t, manager, "#approve-claim", "Claim approved")
	eventually(t, "the claim to be reimbursable", func() bool {
		m, err = sys.store.GetMDFRequest(context.Background(), uuid.MustParse(mdfID))
		return err == nil && (m.Status == "reimbursable")
	})
	if st := queryStatus(t, m.WorkflowID); st != "reimbursable" {
		t.Fatalf("the MDF workflow says %q", st)
	}
	// Everything of this program is decided: its inbox is empty.
	open(t, manager, "/?program_id="+f.programID)
	if inbox := pageText(t, manager); strings.Contains(inbox, company) || !strings.Contains(inbox, "Nothing waits for a decision") {
		t.Fatalf("decided items are still in the inbox:\n%s", inbox)
	}

	// What a partner may not open: another partner's deal, by URL; a manager's page.
	otherF := newProgram(t)
	_, otherKey := activePartner(t, otherF, "reseller")
	oc, od := uniqueCompany()
	otherDeal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: otherKey, body: dealBody(oc, od)}), http.StatusCreated).str("id")
	open(t, partner, "/deals/"+otherDeal)
	if txt := pageText(t, partner); !strings.Contains(txt, "Not Found") || strings.Contains(txt, oc) {
		t.Fatalf("another partner's deal by URL:\n%s", txt)
	}
	open(t, partner, "/closes")
	if txt := pageText(t, partner); !strings.Contains(txt, "Not for your role") {
		t.Fatalf("a partner on the closes page:\n%s", txt)
	}
}

// Finance starts a close, confirms a partner's changed payout details from it,
// signs it off, and retries the payout that failed.
func TestPortalFinanceJourney(t *testing.T) {
	f := closeProgram(t, "http")
	line(t, f.programID, f.a, "commission", "120.00", time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC), "payable")
	// The partner changed where it is paid (version 2, not confirmed): the close holds it.
	if _, err := sys.store.Pool.Exec(context.Background(), `INSERT INTO payout_details (id, partner_id, version, method, destination, created_by)
		VALUES (gen_random_uuid(), $1, 2, 'provider', 'acct_portalchange01', 'partner:test')`, f.a); err != nil {
		t.Fatal(err)
	}
	financeEmail := portalUser(t, f.admin, "finance")
	managerEmail := portalUser(t, f.admin, "manager")

	fin := newBrowser(t)
	signIn(t, fin, financeEmail)
	var program string
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT name FROM programs WHERE id = $1`, f.programID).Scan(&program); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(fin, chromedp.SetValue(chromedp.ID("program_id"), f.programID), chromedp.SetValue(chromedp.ID("month"), "2026-09")); err != nil {
		t.Fatal(err)
	}
	submit(t, fin, "#start-close button[type=submit]", "Close started")
	closeID := idFromURL(t, fin, "/closes/")
	eventually(t, "the close to wait for review", func() bool {
		open(t, fin, "/closes/"+closeID)
		return strings.Contains(pageText(t, fin), "Sign off and pay")
	})
	txt := pageText(t, fin)
	if !strings.Contains(txt, "120.00") {
		t.Fatalf("the close's statements:\n%s", txt)
	}
	if !strings.Contains(txt, "Held: payout details changed") || !strings.Contains(txt, "provider "+domainMask("acct_portalchange01")+" (version 2)") {
		t.Fatalf("the held partner on the close:\n%s", txt)
	}
	screenshot(t, fin, "finance-close-review")
	submit(t, fin, "#held-for-details button.confirm-details", "Payout details confirmed")
	if txt := pageText(t, fin); strings.Contains(txt, "Held: payout details changed") || !strings.Contains(txt, "Sign off and pay") {
		t.Fatalf("the close after the confirmation:\n%s", txt)
	}

	// Drill down: the partner's statement with its lines; the partner's own CSV of them.
	if err := chromedp.Do(fin, chromedp.Click(chromedp.CSS(`#statements a[href^="/statements?partner_id=`+f.a+`"]`)), chromedp.WaitVisible(chromedp.CSS("table.lines"))); err != nil {
		t.Fatal(err)
	}
	if txt := pageText(t, fin); !strings.Contains(txt, "commission") || !strings.Contains(txt, "120.00") || !strings.Contains(txt, "fixture") {
		t.Fatalf("the statement's lines:\n%s", txt)
	}
	partnerEmail := "owner." + strings.ToLower(uuid.NewString()[:8]) + "@northwind.example"
	expect(t, do(t, call{method: "POST", path: "/v1/users", key: f.admin, body: map[string]any{"email": partnerEmail, "role": "partner", "partner_id": f.a}}), http.StatusCreated)
	pc, _ := newSession(t, partnerEmail)
	req, _ := http.NewRequest("GET", sys.api.URL+"/statements.csv", nil)
	req.AddCookie(pc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(string(body), "month,close_status,") || !strings.Contains(string(body), ",commission,fixture,") || !strings.Contains(string(body), ",120.00,EUR,") {
		t.Fatalf("the partner's CSV: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// A manager may neither open the close nor sign it off, even with a session and its CSRF token.
	mgr := newBrowser(t)
	signIn(t, mgr, managerEmail)
	open(t, mgr, "/closes/"+closeID)
	if txt := pageText(t, mgr); !strings.Contains(txt, "Not for your role") {
		t.Fatalf("a manager on a close:\n%s", txt)
	}
	cookie, csrf := newSession(t, managerEmail)
	if r := postForm(t, "/closes/"+closeID+"/approve", cookie, url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a manager signing off: %d", r.StatusCode)
	}

	// Sign-off while the provider declines: the payout fails, and is retried from the payouts page.
	sys.pay.SetMode(fakepay.Mode{Fail: true})
	defer sys.pay.SetMode(fakepay.Mode{})
	open(t, fin, "/closes/"+closeID)
	submit(t, fin, "#signoff", "Close signed off")
	cl, err := sys.store.GetClose(context.Background(), uuid.MustParse(closeID))
	if err != nil || cl.ApprovedBy == nil || *cl.ApprovedBy != "finance:"+financeEmail {
		t.Fatalf("the signed-off close: %+v %v", cl, err)
	}
	waitClose(t, f.finance, closeID, "completed")
	sys.pay.SetMode(fakepay.Mode{})
	open(t, fin, "/payouts?status=failed")
	p := payoutOf(t, f, closeID)
	pid := p["id"].(string)
	if p["status"] != "failed" {
		t.Fatalf("the payout: %v", p)
	}
	screenshot(t, fin, "finance-failed-payouts")
	submit(t, fin, "#payout-"+pid+" button.retry", "Payout retried")
	eventually(t, "the retried payout to be paid", func() bool { return payoutOf(t, f, closeID)["status"] == "paid" })
	if trs := sys.pay.Transfers(); trs[len(trs)-1].Reference != pid || trs[len(trs)-1].Destination != "acct_portalchange01" {
		t.Fatalf("the retried payout went to %+v, not to the confirmed version 2", trs[len(trs)-1])
	}
	if st := queryStatus(t, p["workflow_id"].(string)); st != "paid" {
		t.Fatalf("the payout workflow says %q", st)
	}
	open(t, fin, "/payouts")
	if txt := pageText(t, fin); !strings.Contains(txt, "paid") {
		t.Fatalf("the payouts page:\n%s", txt)
	}
}

// newSession signs a user in without a browser (for requests the pages never
// make): a session row as the sign-in makes it. Answers the cookie and CSRF token.
func newSession(t *testing.T, address string) (*http.Cookie, string) {
	t.Helper()
	u, err := sys.store.GetUserByEmail(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := base64.RawURLEncoding.EncodeToString(raw)
	csrf := "csrf-" + uuid.NewString()
	hash := sha256Sum(secret)
	if err := sys.store.CreateSession(context.Background(), db.CreateSessionParams{IDHash: hash, UserID: u.ID, CsrfToken: csrf, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: "po_session", Value: secret}, csrf
}

// postForm posts a form as a browser would, without following the redirect.
func postForm(t *testing.T, path string, cookie *http.Cookie, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", sys.api.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

func getPage(t *testing.T, path string, cookie *http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", sys.api.URL+path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

// A form posted without its session's CSRF token (or with another) is refused
// and changes nothing; an ended or expired session is signed out; a sign-in
// link works once; an unknown address is told the same as a known one.
func TestPortalSessionsAndCSRF(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "reseller")
	company, dom := uniqueCompany()
	dealID := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: partnerKey, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	managerEmail := portalUser(t, f.admin, "manager")
	cookie, csrf := newSession(t, managerEmail)

	for _, form := range []url.Values{{}, {"csrf": {"wrong"}}, {"csrf": {csrf + "x"}}} {
		if r := postForm(t, "/deals/"+dealID+"/approve", cookie, form); r.StatusCode != http.StatusForbidden {
			t.Fatalf("approve with csrf %q: %d", form.Get("csrf"), r.StatusCode)
		}
	}
	d, _ := sys.store.GetDeal(context.Background(), uuid.MustParse(dealID))
	if d.Status != "pending_approval" {
		t.Fatalf("a refused form changed the deal: %s", d.Status)
	}
	// Without a session a page sends the browser to sign in (and back afterwards).
	if r := getPage(t, "/deals/"+dealID, nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fdeals%2F"+dealID {
		t.Fatalf("no session: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := getPage(t, "/deals/"+dealID, cookie); r.StatusCode != http.StatusOK {
		t.Fatalf("with a session: %d", r.StatusCode)
	}
	if r := postForm(t, "/deals/"+dealID+"/approve", cookie, url.Values{"csrf": {csrf}, "reason": {"ok"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve with the token: %d", r.StatusCode)
	}
	eventually(t, "the deal to be approved", func() bool {
		d, _ = sys.store.GetDeal(context.Background(), uuid.MustParse(dealID))
		return d.Status == "approved"
	})

	// Expiry, in the browser: the next page is the sign-in page, with the way back.
	b := newBrowser(t)
	signIn(t, b, managerEmail)
	u, _ := sys.store.GetUserByEmail(context.Background(), managerEmail)
	if err := sys.store.ExpireSessionsOfUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Navigate(sys.api.URL+"/deals/"+dealID), chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
		t.Fatal(err)
	}
	if loc := browse(t, b, chromedp.Location()); loc != sys.api.URL+"/login?next=%2Fdeals%2F"+dealID {
		t.Fatalf("after expiry the browser is at %s", loc)
	}
	if r := getPage(t, "/", cookie); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("an expired session's cookie still opens pages: %d", r.StatusCode)
	}

	// Sign out ends the session on the server, not only in the browser.
	signIn(t, b, managerEmail)
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(".whoami button")), chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
		t.Fatal(err)
	}
	var ended int
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE user_id = $1 AND ended_at IS NOT NULL`, u.ID).Scan(&ended); err != nil || ended != 1 {
		t.Fatalf("sessions ended by signing out: %d %v", ended, err)
	}

	// A link works once.
	since := time.Now()
	if err := chromedp.Do(b, chromedp.Navigate(sys.api.URL+"/login"), chromedp.SendKeys(chromedp.ID("email"), managerEmail),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("sent"))); err != nil {
		t.Fatal(err)
	}
	link := mailedLink(t, managerEmail, since)
	for i, want := range []string{"Inbox", "already used or has expired"} {
		if err := chromedp.Do(b, chromedp.Navigate(link), chromedp.Click(chromedp.ID("confirm"))); err != nil {
			t.Fatalf("use %d of the link: %v", i+1, err)
		}
		waitFor(t, b, want)
	}

	// An unknown address: the same answer, and no e-mail.
	if err := chromedp.Do(b, chromedp.Navigate(sys.api.URL+"/"), chromedp.Click(chromedp.CSS(".whoami button")), chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
		t.Fatal(err)
	}
	unknown := "nobody." + uuid.NewString()[:8] + "@vendor.example"
	if err := chromedp.Do(b, chromedp.Navigate(sys.api.URL+"/login"), chromedp.SendKeys(chromedp.ID("email"), unknown),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("sent"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for _, m := range sys.mail.Messages() {
		if len(m.To) == 1 && m.To[0] == unknown {
			t.Fatal("an unknown address was mailed")
		}
	}
	var users int
	_ = sys.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE email = $1`, unknown).Scan(&users)
	if users != 0 {
		t.Fatal("an unknown address got a user")
	}
}

// A partner's user invites a colleague, who signs in with the mailed link and
// acts for the same partner.
func TestPortalInviteColleague(t *testing.T) {
	f := newProgram(t)
	_, partnerKey := activePartner(t, f, "affiliate")
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: partnerKey}), http.StatusOK)
	b := newBrowser(t)
	signIn(t, b, me.str("email"))
	colleague := "sam." + strings.ToLower(uuid.NewString()[:8]) + "@northwind.example"
	open(t, b, "/team")
	fill(t, b, map[string]string{"invite-name": "Sam", "invite-email": colleague})
	submit(t, b, "#invite button[type=submit]", colleague+" is invited")
	screenshot(t, b, "partner-team")
	if txt := browse(t, b, chromedp.Text(chromedp.ID("team"))); !strings.Contains(txt, colleague) {
		t.Fatalf("the team: %s", txt)
	}
	var actor string
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT a.actor FROM audit_events a JOIN users u ON u.id = a.record_id WHERE a.action = 'user.invite' AND u.email = $1`, colleague).Scan(&actor); err != nil || actor != "partner:"+me.str("email") {
		t.Fatalf("the invitation's audit event: %q %v", actor, err)
	}
	// The colleague's link arrived with the invitation; a fresh browser uses it.
	link := mailedLink(t, colleague, time.Now().Add(-time.Minute))
	b2 := newBrowser(t)
	if err := chromedp.Do(b2, chromedp.Navigate(link), chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("status"))); err != nil {
		t.Fatal(err)
	}
	if txt := pageText(t, b2); !strings.Contains(txt, me.str("company")) {
		t.Fatalf("the colleague's dashboard:\n%s", txt)
	}
	// Inviting an address that has an account is refused, and says so.
	open(t, b, "/team")
	fill(t, b, map[string]string{"invite-email": colleague})
	submit(t, b, "#invite button[type=submit]", "already has an account")

	// Payout details through the page, read back masked by the API; a bad IBAN is told.
	open(t, b2, "/payout-details")
	fill(t, b2, map[string]string{"holder": "Northwind GmbH", "iban": "DE89370400440532013001", "bic": "COBADEFFXXX"})
	if err := chromedp.Do(b2, chromedp.Click(chromedp.CSS("#payout-details button[type=submit]"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b2, `document.getElementById("flash") !== null && document.getElementById("flash").classList.contains("error")`, "an error about the IBAN")
	if msg := browse(t, b2, chromedp.Text(chromedp.ID("flash"))); !strings.Contains(strings.ToLower(msg), "iban") {
		t.Fatalf("a bad IBAN: %q", msg)
	}
	fill(t, b2, map[string]string{"holder": "Northwind GmbH", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"})
	submit(t, b2, "#payout-details button[type=submit]", "Payout details saved")
	pd := expect(t, do(t, call{method: "GET", path: "/v1/me/payout-details", key: partnerKey}), http.StatusOK)
	if pd.str("method") != "bank" || !strings.Contains(pd.str("destination"), "•") || strings.Contains(pd.str("destination"), "370400") {
		t.Fatalf("payout details after the form: %s", pd.raw)
	}
	if txt := pageText(t, b2); !strings.Contains(txt, pd.str("destination")) {
		t.Fatalf("the page does not show the masked details:\n%s", txt)
	}
	open(t, b2, "/conversions")
	if txt := pageText(t, b2); !strings.Contains(txt, "No conversions yet") {
		t.Fatalf("conversions: %s", txt)
	}
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// An affiliate creates a link in the portal, sees its clicks and conversions per
// day, and adds, rotates and disables a webhook endpoint (the secret shown once).
func TestPortalAffiliateLinksAndWebhooks(t *testing.T) {
	f := affiliateProgram(t)
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: f.partnerKey}), http.StatusOK)
	b := newBrowser(t)
	signIn(t, b, me.str("email"))

	open(t, b, "/links")
	fill(t, b, map[string]string{"destination": "https://www.shop.example/spring", "sub_id": "newsletter"})
	submit(t, b, "#create-link button[type=submit]", "Link created")
	var code string
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT code FROM links WHERE partner_id = $1 AND sub_id = 'newsletter'`, f.partnerID).Scan(&code); err != nil {
		t.Fatalf("the link in the database: %v", err)
	}
	waitForLink(t, code)
	for i := range 3 {
		if resp, _ := click(t, code, "", browser+" "+uuid.NewString()[:4]); resp.StatusCode != http.StatusFound {
			t.Fatalf("click %d: %d", i, resp.StatusCode)
		}
	}
	eventually(t, "the clicks on the links page", func() bool {
		open(t, b, "/links")
		row := browse(t, b, chromedp.Text(chromedp.ID("links")))
		return strings.Contains(row, "newsletter") && strings.Contains(row, "\t4\t") // 3 clicks and the cache probe
	})
	if v := browse(t, b, chromedp.Value(chromedp.CSS(`input.copy`))); v != sys.api.URL+"/c/"+code {
		t.Fatalf("the link to copy reads %q", v)
	}
	if n := browse(t, b, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect").length`)); n < 60 {
		t.Fatalf("the daily charts have %d columns", n)
	}
	screenshot(t, b, "partner-links")
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#links a[href^="/links/"]`)), chromedp.WaitVisible(chromedp.ID("link-days"))); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if days := browse(t, b, chromedp.Text(chromedp.ID("link-days"))); !strings.Contains(days, today+"\t4") {
		t.Fatalf("the link's days: %q", days)
	}

	// A self-referral is flagged; the manager rejects it from the inbox, and its commission is void.
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), http.StatusCreated).str("code")
	conv := expect(t, f.convert(t, map[string]any{"external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "50.00", "coupon_code": coupon,
		"customer_email": me.str("email")}), http.StatusCreated)
	managerEmail := portalUser(t, f.admin, "manager")
	mgr := newBrowser(t)
	signIn(t, mgr, managerEmail)
	open(t, mgr, "/?kind=conversion&program_id="+f.programID)
	if err := chromedp.Do(mgr, chromedp.Click(chromedp.CSS(`a[href="/conversions/`+conv.str("id")+`"]`)), chromedp.WaitVisible(chromedp.ID("review-status"))); err != nil {
		t.Fatal(err)
	}
	if txt := pageText(t, mgr); !strings.Contains(txt, "self referral") {
		t.Fatalf("the flagged conversion:\n%s", txt)
	}
	fill(t, mgr, map[string]string{"reject-reason": "the partner bought through its own coupon"})
	submit(t, mgr, `form[action$="/reject"] button`, "Conversion rejected")
	eventually(t, "the commission to be void", func() bool {
		var status string
		_ = sys.store.Pool.QueryRow(context.Background(), `SELECT status FROM commission_lines WHERE source_id = $1`, conv.str("id")).Scan(&status)
		return status == "void"
	})

	// The partner's conversions, as a page and as CSV.
	open(t, b, "/conversions")
	if txt := pageText(t, b); !strings.Contains(txt, conv.str("external_id")) || !strings.Contains(txt, "rejected") {
		t.Fatalf("the conversions page:\n%s", txt)
	}
	pc, _ := newSession(t, me.str("email"))
	req, _ := http.NewRequest("GET", sys.api.URL+"/conversions.csv", nil)
	req.AddCookie(pc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(csvBody), "occurred_at,kind,external_id,") || !strings.Contains(string(csvBody), ",sale,"+conv.str("external_id")+",,50.00,EUR,coupon,rejected,") {
		t.Fatalf("the conversions CSV: %d\n%s", resp.StatusCode, csvBody)
	}

	// Webhooks: the secret is on the answer page only; the endpoint is listed; disabled, it says so.
	open(t, b, "/webhooks")
	fill(t, b, map[string]string{"webhook-url": "http://127.0.0.1:9/partnerops", "webhook-description": "CRM"})
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`input[value="deal.approved"]`))); err != nil {
		t.Fatal(err)
	}
	submit(t, b, "#add-webhook button[type=submit]", "shown only once")
	secret := browse(t, b, chromedp.Value(chromedp.ID("secret")))
	var endpoints int
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_endpoints WHERE partner_id = $1`, f.partnerID).Scan(&endpoints); err != nil || endpoints != 1 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the endpoint: secret %q, %d endpoints, %v", secret, endpoints, err)
	}
	open(t, b, "/webhooks")
	if txt := browse(t, b, chromedp.Text(chromedp.ID("endpoints"))); !strings.Contains(txt, "deal.approved") || !strings.Contains(txt, "active") || strings.Contains(txt, secret) {
		t.Fatalf("the endpoints: %q", txt)
	}
	submit(t, b, `#endpoints button[type=submit]:not(.danger)`, "shown only once")
	if again := browse(t, b, chromedp.Value(chromedp.ID("secret"))); again == secret || !strings.HasPrefix(again, "whsec_") {
		t.Fatalf("the rotated secret: %q", again)
	}
	open(t, b, "/webhooks")
	submit(t, b, `#endpoints button.danger`, "Endpoint disabled")
	if txt := browse(t, b, chromedp.Text(chromedp.ID("endpoints"))); !strings.Contains(txt, "disabled") {
		t.Fatalf("the disabled endpoint: %q", txt)
	}
}

// An admin disables a user from the Users page: its open session stops at once,
// and it is mailed no sign-in link any more.
func TestPortalAdminDisablesUser(t *testing.T) {
	f := newProgram(t)
	managerEmail := portalUser(t, f.admin, "manager")
	adminEmail := portalUser(t, f.admin, "admin")
	cookie, _ := newSession(t, managerEmail)
	if r := getPage(t, "/", cookie); r.StatusCode != http.StatusOK {
		t.Fatalf("the manager's session before: %d", r.StatusCode)
	}
	b := newBrowser(t)
	signIn(t, b, adminEmail)
	open(t, b, "/users")
	submit(t, b, `button[aria-label="Disable `+managerEmail+`"]`, "User disabled")
	screenshot(t, b, "admin-users")
	if r := getPage(t, "/", cookie); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the disabled manager's session still opens pages: %d", r.StatusCode)
	}
	since := time.Now()
	if r := postForm(t, "/login", nil, url.Values{"email": {managerEmail}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a sign-in form without its CSRF cookie: %d", r.StatusCode) // the browser's form carries one; this one must not pass
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(".whoami button")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), managerEmail), chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("sent"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	for _, m := range sys.mail.Messages() {
		if len(m.To) == 1 && m.To[0] == managerEmail && m.At.After(since) {
			t.Fatal("a disabled user was mailed a sign-in link")
		}
	}
	var action string
	if err := sys.store.Pool.QueryRow(context.Background(), `SELECT a.actor FROM audit_events a JOIN users u ON u.id = a.record_id WHERE a.action = 'user.disable' AND u.email = $1`, managerEmail).Scan(&action); err != nil || action != "admin:"+adminEmail {
		t.Fatalf("the audit event: %q %v", action, err)
	}
}

// The manager's partner list by tier, the certification form that activates a
// reseller, the pipeline and MDF utilisation charts, a partner's notifications.
func TestPortalReportsAndCertification(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "reseller")
	key := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK).str("api_key")
	expect(t, do(t, call{method: "POST", path: "/v1/me/agreement", key: key, body: map[string]any{"version": "2026-01"}}), http.StatusOK)
	tiers := map[string]string{}
	for _, tr := range expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK).body["tiers"].([]any) {
		tiers[tr.(map[string]any)["name"].(string)] = tr.(map[string]any)["id"].(string)
	}
	mgr := newBrowser(t)
	signIn(t, mgr, portalUser(t, f.admin, "manager"))
	open(t, mgr, "/partners?program_id="+f.programID+"&tier_id="+tiers["Gold"])
	if txt := browse(t, mgr, chromedp.Text(chromedp.ID("partners"))); !strings.Contains(txt, "No partners match") {
		t.Fatalf("Gold partners: %s", txt)
	}
	open(t, mgr, "/partners?program_id="+f.programID+"&tier_id="+tiers["Registered"])
	if txt := browse(t, mgr, chromedp.Text(chromedp.ID("partners"))); !strings.Contains(txt, "Registered") || !strings.Contains(txt, "awaiting certification") {
		t.Fatalf("Registered partners: %s", txt)
	}

	// The certification form: the reseller's missing certification makes it active.
	if err := chromedp.Do(mgr, chromedp.Click(chromedp.CSS(`#partners a[href="/partners/`+id+`"]`)), chromedp.WaitVisible(chromedp.ID("certification-form"))); err != nil {
		t.Fatal(err)
	}
	fill(t, mgr, map[string]string{"cert-passed": "2026-11-01", "cert-expires": "2028-11-01"})
	submit(t, mgr, "#certification-form button", "Certification recorded")
	eventually(t, "the reseller to be active", func() bool {
		p, err := sys.store.GetPartner(context.Background(), uuid.MustParse(id))
		return err == nil && p.Status == "active"
	})

	// The pipeline chart shows the approved deal's stage and value.
	company, dom := uniqueCompany()
	deal := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: key, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + deal + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	open(t, mgr, "/pipeline")
	if n := browse(t, mgr, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.chart-bar").length`)); n < 1 {
		t.Fatalf("the pipeline chart has %d bars", n)
	}
	if txt := browse(t, mgr, chromedp.Text(chromedp.ID("pipeline"))); !strings.Contains(txt, "EUR") {
		t.Fatalf("the pipeline table: %s", txt)
	}

	// MDF utilisation for finance: the allocation by tier, charted.
	allocate(t, f, id, "1000.00")
	fin := newBrowser(t)
	signIn(t, fin, portalUser(t, f.admin, "finance"))
	open(t, fin, "/mdf-report")
	if txt := browse(t, fin, chromedp.Text(chromedp.ID("mdf-partners"))); !strings.Contains(txt, "1,000.00 EUR") {
		t.Fatalf("the MDF report: %s", txt)
	}
	if n := browse(t, fin, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.chart-bar").length`)); n < 2 {
		t.Fatalf("the MDF chart has %d bars", n)
	}

	// The partner reads what the processes told it (here: a tier move).
	expect(t, do(t, call{method: "PUT", path: "/v1/partners/" + id + "/tier", key: f.manager, body: map[string]any{"tier_id": tiers["Gold"], "reason": "strategic account"}}), http.StatusOK)
	var first []any
	eventually(t, "the tier move's notification", func() bool {
		first = expect(t, do(t, call{method: "GET", path: "/v1/me/notifications?limit=1", key: key}), http.StatusOK).body["data"].([]any)
		return len(first) > 0
	})
	me := expect(t, do(t, call{method: "GET", path: "/v1/me", key: key}), http.StatusOK)
	p := newBrowser(t)
	signIn(t, p, me.str("email"))
	open(t, p, "/notifications")
	if txt := browse(t, p, chromedp.Text(chromedp.ID("notifications"))); !strings.Contains(txt, first[0].(map[string]any)["message"].(string)) {
		t.Fatalf("the notifications page: %s", txt)
	}
}
