package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"html/template"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// registerPortal adds the pages. A page that changes something is a formAction:
// the form's fields become the body of one API route, run by invoke, with the
// route's own roles.
func (s *Server) registerPortal() {
	s.engine.GET("/portal.css", servePortalCSS)
	s.publicPage(http.MethodGet, "/login", s.loginPage)
	s.publicPage(http.MethodPost, "/login", s.requestSignIn)
	s.publicPage(http.MethodGet, "/login/confirm", s.confirmPage)
	s.publicPage(http.MethodPost, "/login/confirm", s.confirmSignIn)
	all := []string{"admin", "manager", "finance", "partner"}
	s.page(http.MethodPost, "/logout", all, s.logout)
	s.page(http.MethodGet, "/", all, s.homePage)

	// Deals: the partner's own, or every deal for staff.
	s.page(http.MethodGet, "/deals", []string{"partner", "manager", "admin"}, s.dealsPage)
	s.page(http.MethodPost, "/deals", partners, s.registerDeal)
	s.page(http.MethodGet, "/deals/:id", staffAndOwn, s.dealPage)
	s.formAction("/deals/:id/approve", "/v1/deals/:id/approve", "/deals/:id", "Deal approved", text("reason"), decimalField("margin"))
	s.formAction("/deals/:id/reject", "/v1/deals/:id/reject", "/deals/:id", "Deal rejected", text("reason"))
	s.formAction("/deals/:id/extension", "/v1/deals/:id/extension", "/deals/:id", "Extension requested", text("reason"))
	s.formAction("/deals/:id/extension/approve", "/v1/deals/:id/extension/approve", "/deals/:id", "Extension approved", text("reason"), intField("days"))
	s.formAction("/deals/:id/extension/reject", "/v1/deals/:id/extension/reject", "/deals/:id", "Extension rejected", text("reason"))
	s.formAction("/deals/:id/won", "/v1/deals/:id/won", "/deals/:id", "Win reported", decimalField("final_amount"))
	s.formAction("/deals/:id/won/confirm", "/v1/deals/:id/won/confirm", "/deals/:id", "Win confirmed", text("reason"), decimalField("final_amount"))
	s.formAction("/deals/:id/won/reject", "/v1/deals/:id/won/reject", "/deals/:id", "Win report rejected", text("reason"))
	s.formAction("/deals/:id/lost", "/v1/deals/:id/lost", "/deals/:id", "Deal closed as lost", text("reason"))

	// MDF.
	s.page(http.MethodGet, "/mdf", []string{"partner", "manager", "admin"}, s.mdfPage)
	s.page(http.MethodPost, "/mdf", partners, s.requestMDF)
	s.page(http.MethodGet, "/mdf/:id", staffAndOwn, s.mdfRequestPage)
	s.page(http.MethodPost, "/mdf/:id/claim", partners, s.claimMDFPage)
	s.page(http.MethodGet, "/mdf/:id/files/:file_id", staffAndOwn, s.mdfFilePage)
	s.formAction("/mdf/:id/approve", "/v1/mdf/requests/:id/approve", "/mdf/:id", "MDF request approved", text("reason"), decimalField("amount"))
	s.formAction("/mdf/:id/reject", "/v1/mdf/requests/:id/reject", "/mdf/:id", "MDF request rejected", text("reason"))
	s.formAction("/mdf/:id/withdraw", "/v1/mdf/requests/:id/withdraw", "/mdf/:id", "MDF request withdrawn", text("reason"))
	s.formAction("/mdf/:id/claim/approve", "/v1/mdf/requests/:id/claim/approve", "/mdf/:id", "Claim approved: reimbursement is on its way", text("reason"), decimalField("amount"))
	s.formAction("/mdf/:id/claim/reject", "/v1/mdf/requests/:id/claim/reject", "/mdf/:id", "Claim rejected", text("reason"))
	s.formAction("/mdf/:id/claim/request-proof", "/v1/mdf/requests/:id/claim/request-proof", "/mdf/:id", "More proof requested", text("reason"))

	// Partners and applications.
	s.page(http.MethodGet, "/partners", staff, s.partnersPage)
	s.page(http.MethodGet, "/partners/:id", staff, s.partnerPage)
	s.formAction("/partners/:id/approve", "/v1/partners/:id/approve", "/partners/:id", "Application approved", text("reason"))
	s.formAction("/partners/:id/reject", "/v1/partners/:id/reject", "/partners/:id", "Application rejected", text("reason"))

	// Flagged conversions.
	s.page(http.MethodGet, "/conversions/:id", staffAndOwn, s.conversionPage)
	s.formAction("/conversions/:id/approve", "/v1/conversions/:id/approve", "/conversions/:id", "Conversion approved", text("reason"))
	s.formAction("/conversions/:id/reject", "/v1/conversions/:id/reject", "/conversions/:id", "Conversion rejected", text("reason"))

	s.formAction("/partners/:id/certifications", "/v1/partners/:id/certifications", "/partners/:id", "Certification recorded", text("name"), text("passed_at"), text("expires_at"))

	s.page(http.MethodGet, "/pipeline", staff, s.pipelinePage)

	// Webhook endpoints: a partner's own (an admin's per program through the API).
	s.page(http.MethodGet, "/webhooks", partners, s.webhooksPage)
	s.page(http.MethodPost, "/webhooks", partners, s.createWebhookPage)
	s.page(http.MethodGet, "/webhooks/:id", partners, s.webhookPage)
	s.page(http.MethodPost, "/webhooks/:id/disable", partners, s.disableWebhookPage)
	s.page(http.MethodPost, "/webhooks/:id/secrets", partners, s.rotateWebhookSecretPage)
	s.formAction("/webhook-deliveries/:id/replay", "/v1/webhook-deliveries/:id/replay", "/webhooks", "Delivery sent again (same event id)", none())

	// Affiliate links, earnings, notifications, team.
	s.page(http.MethodGet, "/links", partners, s.linksPage)
	s.formAction("/links", "/v1/links", "/links", "Link created", text("destination"), text("sub_id"))
	s.page(http.MethodGet, "/links/:id", partners, s.linkPage)
	s.page(http.MethodGet, "/earnings", partners, s.earningsPage)
	s.page(http.MethodGet, "/statements.csv", financeOrPartner, s.statementsCSVPage)
	s.page(http.MethodGet, "/statements", financeOnly, s.statementsPage)
	s.page(http.MethodGet, "/conversions", partners, s.conversionsPage)
	s.page(http.MethodGet, "/conversions.csv", partners, s.conversionsCSVPage)
	s.page(http.MethodGet, "/payout-details", partners, s.payoutDetailsPage)
	s.page(http.MethodPost, "/payout-details", partners, s.setPayoutDetailsPage)
	s.page(http.MethodGet, "/notifications", partners, s.notificationsPage)
	s.page(http.MethodGet, "/team", partners, s.teamPage)
	s.page(http.MethodPost, "/team", partners, s.inviteColleague)

	// Finance.
	s.page(http.MethodGet, "/closes", financeAndAdmin, s.closesPage)
	s.page(http.MethodPost, "/closes", financeOnly, s.startClosePage)
	s.page(http.MethodGet, "/closes/:id", financeAndAdmin, s.closePage)
	s.page(http.MethodGet, "/closes/:id/statements.csv", financeAndAdmin, s.closeCSV)
	s.formAction("/closes/:id/approve", "/v1/closes/:id/approve", "/closes/:id", "Close signed off: payouts are starting", text("reason"))
	s.formAction("/closes/:id/adjustments", "/v1/closes/:id/adjustments", "/closes/:id", "Adjustment added", text("partner_id"), decimalField("amount"), text("reason"))
	s.formAction("/partners/:id/payout-details/confirm", "/v1/partners/:id/payout-details/confirm", "/payouts", "Payout details confirmed: held payouts go on", intField("version"))
	s.page(http.MethodGet, "/payouts", financeOnly, s.payoutsPage)
	s.formAction("/payouts/:id/retry", "/v1/payouts/:id/retry", "/payouts", "Payout retried", none())
	s.formAction("/payouts/:id/mark-paid", "/v1/payouts/:id/mark-paid", "/payouts", "Payout marked paid", text("reason"))
	s.page(http.MethodGet, "/mdf-report", staff, s.mdfReportPage)

	// Admin: who may sign in.
	s.page(http.MethodGet, "/users", admins, s.usersPage)
	s.formAction("/users", "/v1/users", "/users", "User added: they sign in with their e-mail address", text("email"), text("name"), text("role"), text("partner_id"))
	s.page(http.MethodPost, "/users/:id/disable", admins, s.disableUserPage)
}

func (s *Server) usersPage(c *gin.Context, ss *session) {
	var list struct{ Data []obj }
	if !s.read(c, ss, "/v1/users", nil, url.Values{"limit": {"200"}}, &list) {
		return
	}
	s.render(c, http.StatusOK, "users", view{Title: "Users", Data: list.Data})
}

// field turns one form value into one JSON field (absent when empty).
type field struct {
	name string
	conv func(string) (any, error)
}

func text(name string) field { return field{name, func(v string) (any, error) { return v, nil }} }

// decimalField is sent as the API's decimal string; the API checks its bounds.
func decimalField(name string) field {
	return field{name, func(v string) (any, error) { return strings.ReplaceAll(strings.TrimSpace(v), ",", ""), nil }}
}

func intField(name string) field {
	return field{name, func(v string) (any, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s must be a whole number", strings.ReplaceAll(name, "_", " "))
		}
		return n, nil
	}}
}

func none() field { return field{} }

// formAction registers a form that runs one API route. The page has the route's
// roles; a refusal goes back to the page it came from with the API's message.
func (s *Server) formAction(path, apiRoute, back, done string, fields ...field) {
	route, ok := s.routeHandlers[http.MethodPost+" "+apiRoute]
	if !ok {
		panic("portal form " + path + ": no API route " + apiRoute)
	}
	s.page(http.MethodPost, path, route.Roles, func(c *gin.Context, ss *session) {
		form, err := formValues(c)
		body := map[string]any{}
		for _, f := range fields {
			if f.name == "" {
				continue
			}
			if v := strings.TrimSpace(form.Get(f.name)); v != "" && err == nil {
				body[f.name], err = f.conv(v)
			}
		}
		to := back
		if b := form.Get("back"); strings.HasPrefix(b, "/") && !strings.HasPrefix(b, "//") && !strings.Contains(b, `\`) {
			to = b // the page the form is on (a local path only)
		}
		var params gin.Params
		for _, p := range c.Params {
			to = strings.Replace(to, ":"+p.Key, p.Value, 1)
			params = append(params, p)
		}
		if err != nil {
			redirectFlash(c, to, "error: "+err.Error())
			return
		}
		r := s.invoke(c, apiCall{Method: http.MethodPost, Route: apiRoute, Params: params, Body: body, IdempotencyKey: form.Get("idempotency_key")})
		var pending PendingDecision
		switch {
		case r.Status == http.StatusAccepted && r.decode(&pending) == nil && pending.Status == "pending":
			redirectFlash(c, to, "Sent: the process has not settled it yet; this page shows the outcome when it has")
		case r.ok():
			redirectFlash(c, to, done)
		default:
			redirectFlash(c, to, "error: "+r.errorDetail().Message)
		}
	})
}

// read runs a GET API route and decodes its answer; on failure it has rendered
// the error page and answers false.
func (s *Server) read(c *gin.Context, ss *session, route string, params gin.Params, query url.Values, dst any) bool {
	r := s.invoke(c, apiCall{Method: http.MethodGet, Route: route, Params: params, Query: query})
	if !r.ok() {
		s.renderAPIError(c, ss, r)
		return false
	}
	if err := r.decode(dst); err != nil {
		s.renderError(c, ss, http.StatusBadGateway, "Something went wrong", "the answer could not be read")
		return false
	}
	return true
}

type obj = map[string]any

func idParam(c *gin.Context) gin.Params { return gin.Params{{Key: "id", Value: c.Param("id")}} }

// homePage: each role's main page.
func (s *Server) homePage(c *gin.Context, ss *session) {
	switch ss.Role {
	case "partner":
		s.partnerDashboard(c, ss)
	case "manager":
		s.inboxPage(c, ss)
	case "finance":
		s.closesPage(c, ss)
	default:
		s.partnersPage(c, ss)
	}
}

func (s *Server) partnerDashboard(c *gin.Context, ss *session) {
	var me, balance obj
	var deals struct{ Data []obj }
	if !s.read(c, ss, "/v1/me", nil, nil, &me) || !s.read(c, ss, "/v1/deals", nil, url.Values{"limit": {"200"}}, &deals) {
		return
	}
	r := s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/mdf/balance"})
	if r.ok() {
		_ = r.decode(&balance)
	}
	earnings, err := s.store.PartnerEarnings(c.Request.Context(), ss.PartnerID)
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "earnings could not be read just now")
		return
	}
	prog, err := s.store.GetProgram(c.Request.Context(), uuid.MustParse(fmt.Sprint(me["program_id"])))
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "the program could not be read just now")
		return
	}
	byStatus := map[string]int{}
	for _, d := range deals.Data {
		byStatus[fmt.Sprint(d["status"])]++
	}
	now := time.Now().UTC()
	nextClose := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	s.render(c, http.StatusOK, "partner_home", view{Title: "Dashboard", Data: obj{
		"Me": me, "Balance": balance, "Currency": prog.Currency, "Program": prog.Name,
		"Pending": earnings.Pending.String(), "Payable": earnings.Payable.String(), "Paid": earnings.Paid.String(),
		"NextClose": nextClose, "ThisMonth": nextClose.AddDate(0, -1, 0), "Deals": byStatus, "DealCount": len(deals.Data),
	}})
}

func (s *Server) inboxPage(c *gin.Context, ss *session) {
	pageNo, _ := strconv.Atoi(c.DefaultQuery("page", "1"))
	pageNo = max(1, min(pageNo, 1000))
	var kind *string
	if k := c.Query("kind"); k != "" && len(k) < 40 {
		kind = &k
	}
	var program uuid.NullUUID
	if v := c.Query("program_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			s.renderError(c, ss, http.StatusBadRequest, "Bad filter", "program_id is not a program's id")
			return
		}
		program = uuid.NullUUID{UUID: id, Valid: true}
	}
	const size = 50
	rows, err := s.store.ManagerInbox(c.Request.Context(), db.ManagerInboxParams{Kind: kind, ProgramID: program, Lim: size + 1, Off: int32((pageNo - 1) * size)})
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "the inbox could not be read just now")
		return
	}
	more := len(rows) > size
	rows = rows[:min(len(rows), size)]
	programs, _ := s.store.ListProgramNames(c.Request.Context())
	filter := queryOf(c, "kind", "program_id")
	s.render(c, http.StatusOK, "inbox", view{Title: "Inbox", Data: obj{"Items": rows, "Page": pageNo, "More": more, "Kind": c.Query("kind"),
		"Program": c.Query("program_id"), "Programs": programs, "Filter": template.URL(filter.Encode())}})
}

func (s *Server) dealsPage(c *gin.Context, ss *session) {
	q := queryOf(c, "status", "stage", "cursor")
	q.Set("limit", "100")
	var deals struct {
		Data       []obj
		HasMore    bool   `json:"has_more"`
		NextCursor string `json:"next_cursor"`
	}
	if !s.read(c, ss, "/v1/deals", nil, q, &deals) {
		return
	}
	data := obj{"Deals": deals.Data, "Next": deals.NextCursor, "Status": c.Query("status"), "Statuses": dealStatuses, "Stage": c.Query("stage"), "Stages": dealStages}
	if ss.Role == "partner" {
		prog, ok := s.partnerProgram(c, ss)
		if !ok {
			return
		}
		data["Currency"] = prog.Currency
	}
	s.render(c, http.StatusOK, "deals", view{Title: "Deals", Data: data})
}

// registerDeal: the registration form; a conflict or a bad field comes back on
// the same form, filled in as it was sent.
func (s *Server) registerDeal(c *gin.Context, ss *session) {
	form, err := formValues(c)
	if err != nil {
		s.renderError(c, ss, http.StatusBadRequest, "Bad form", err.Error())
		return
	}
	var products []string
	for _, p := range strings.Split(form.Get("products"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			products = append(products, p)
		}
	}
	body := obj{"customer_name": form.Get("customer_name"), "customer_domain": form.Get("customer_domain"), "country": strings.ToUpper(form.Get("country")),
		"contact_name": form.Get("contact_name"), "contact_email": form.Get("contact_email"), "estimated_value": decimalOrRaw(form.Get("estimated_value")),
		"currency": form.Get("currency"), "products": products, "expected_close_date": form.Get("expected_close_date"), "notes": form.Get("notes")}
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/deals", Body: body, IdempotencyKey: form.Get("idempotency_key")})
	if !r.ok() {
		d := r.errorDetail()
		var deals struct{ Data []obj }
		_ = s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/deals", Query: url.Values{"limit": {"100"}}}).decode(&deals) // the list under the form; the form's error is what matters
		s.render(c, r.Status, "deals", view{Title: "Deals", Error: &d, Form: form, FormKey: form.Get("idempotency_key"),
			Data: obj{"Deals": deals.Data, "Currency": form.Get("currency"), "Open": true, "Statuses": dealStatuses}})
		return
	}
	var deal obj
	_ = r.decode(&deal)
	msg := "Deal registered: it waits for a manager's approval"
	if cs, _ := deal["conflicts"].([]any); len(cs) > 0 {
		msg += fmt.Sprintf(" (%d possible conflict(s) found: the manager sees them)", len(cs))
	}
	redirectFlash(c, "/deals/"+fmt.Sprint(deal["id"]), msg)
}

// dealStages are the default pipeline stages (a program may name its own; any
// stage can be typed into the address as ?stage=).
var dealStages = []string{"registered", "qualified", "proposal", "negotiation"}

var dealStatuses = []string{"pending_approval", "approved", "won_reported", "won", "lost", "rejected", "expired"}

// decimalOrRaw keeps a typed amount as the API's decimal string.
func decimalOrRaw(v string) string { return strings.ReplaceAll(strings.TrimSpace(v), ",", "") }

func (s *Server) dealPage(c *gin.Context, ss *session) {
	var deal obj
	if !s.read(c, ss, "/v1/deals/:id", idParam(c), nil, &deal) {
		return
	}
	s.render(c, http.StatusOK, "deal", view{Title: "Deal " + fmt.Sprint(deal["customer_name"]), Data: deal})
}

func (s *Server) mdfPage(c *gin.Context, ss *session) {
	var list struct {
		Data []obj
	}
	q := queryOf(c, "status")
	q.Set("limit", "100")
	if !s.read(c, ss, "/v1/mdf/requests", nil, q, &list) {
		return
	}
	data := obj{"Requests": list.Data, "Status": c.Query("status")}
	if ss.Role == "partner" {
		var balance obj
		if r := s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/mdf/balance"}); r.ok() {
			_ = r.decode(&balance)
		}
		data["Balance"] = balance
		if balance != nil {
			data["Chart"] = barChart([]bar{
				{Label: "available", Value: fmt.Sprint(balance["available"])}, {Label: "approved", Value: fmt.Sprint(balance["approved"])},
				{Label: "claimed", Value: fmt.Sprint(balance["claimed"])}, {Label: "reimbursed", Value: fmt.Sprint(balance["reimbursed"])},
			}, "MDF "+fmt.Sprint(balance["quarter"])+" by state, "+fmt.Sprint(balance["currency"]))
		}
	}
	s.render(c, http.StatusOK, "mdf", view{Title: "Market development funds", Data: data})
}

func (s *Server) requestMDF(c *gin.Context, ss *session) {
	form, err := formValues(c)
	if err != nil {
		s.renderError(c, ss, http.StatusBadRequest, "Bad form", err.Error())
		return
	}
	body := obj{"activity_type": form.Get("activity_type"), "description": form.Get("description"), "start_date": form.Get("start_date"),
		"end_date": form.Get("end_date"), "amount": decimalOrRaw(form.Get("amount")), "currency": form.Get("currency")}
	if v := strings.TrimSpace(form.Get("leads")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			redirectFlash(c, "/mdf", "error: expected leads must be a whole number")
			return
		}
		body["expected_outcomes"] = obj{"leads": n}
	}
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/mdf/requests", Body: body, IdempotencyKey: form.Get("idempotency_key")})
	if !r.ok() {
		d := r.errorDetail()
		var list struct{ Data []obj }
		_ = s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/mdf/requests", Query: url.Values{"limit": {"100"}}}).decode(&list)
		s.render(c, r.Status, "mdf", view{Title: "Market development funds", Error: &d, Form: form, FormKey: form.Get("idempotency_key"), Data: obj{"Requests": list.Data, "Open": true}})
		return
	}
	var req obj
	_ = r.decode(&req)
	redirectFlash(c, "/mdf/"+fmt.Sprint(req["id"]), "MDF request sent: it waits for a manager's pre-approval")
}

func (s *Server) mdfRequestPage(c *gin.Context, ss *session) {
	var req obj
	if !s.read(c, ss, "/v1/mdf/requests/:id", idParam(c), nil, &req) {
		return
	}
	s.render(c, http.StatusOK, "mdf_request", view{Title: "MDF request", Data: req})
}

// claimMDFPage re-sends the claim form (amount, results, files) to the API's
// claim route as multipart, without the page's own fields.
func (s *Server) claimMDFPage(c *gin.Context, ss *session) {
	back := "/mdf/" + c.Param("id")
	mf := c.Request.MultipartForm
	if mf == nil {
		redirectFlash(c, back, "error: send the claim with its proof files")
		return
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("amount", decimalOrRaw(c.PostForm("amount")))
	if v := strings.TrimSpace(c.PostForm("leads")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			redirectFlash(c, back, "error: leads must be a whole number")
			return
		}
		_ = w.WriteField("results", fmt.Sprintf(`{"leads": %d}`, n))
	}
	for _, fh := range mf.File["files"] {
		if fh.Size == 0 && fh.Filename == "" {
			continue
		}
		f, err := fh.Open()
		if err != nil {
			redirectFlash(c, back, "error: a file could not be read")
			return
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, fh.Filename))
		h.Set("Content-Type", fh.Header.Get("Content-Type"))
		part, _ := w.CreatePart(h)
		_, err = io.Copy(part, f)
		f.Close()
		if err != nil {
			redirectFlash(c, back, "error: a file could not be read")
			return
		}
	}
	_ = w.Close()
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/mdf/requests/:id/claim", Params: idParam(c), RawBody: buf.Bytes(),
		ContentType: w.FormDataContentType(), IdempotencyKey: c.PostForm("idempotency_key")})
	if !r.ok() {
		redirectFlash(c, back, "error: "+r.errorDetail().Message)
		return
	}
	redirectFlash(c, back, "Claim filed: a manager reviews the proof")
}

// mdfFilePage streams a proof file through the API's download route.
func (s *Server) mdfFilePage(c *gin.Context, ss *session) {
	s.download(c, ss, apiCall{Method: http.MethodGet, Route: "/v1/mdf/requests/:id/files/:file_id",
		Params: gin.Params{{Key: "id", Value: c.Param("id")}, {Key: "file_id", Value: c.Param("file_id")}}})
}

// download answers a file the API serves (a proof, a CSV) as the API wrote it;
// a refusal is an error page.
func (s *Server) download(c *gin.Context, ss *session, call apiCall) {
	r := s.invoke(c, call)
	if !r.ok() {
		s.renderAPIError(c, ss, r)
		return
	}
	for _, h := range []string{"Content-Disposition", "X-Content-Type-Options"} {
		if v := r.Header.Get(h); v != "" {
			c.Header(h, v)
		}
	}
	c.Data(http.StatusOK, r.Header.Get("Content-Type"), r.Body)
}

// queryOf copies the named query parameters the page was given (the filters it
// hands on to the API).
func queryOf(c *gin.Context, names ...string) url.Values {
	q := url.Values{}
	for _, k := range names {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// partnerProgram is the signed-in partner's program (lists and reports the API
// scopes by program).
func (s *Server) partnerProgram(c *gin.Context, ss *session) (db.Program, bool) {
	p, err := s.loadPartner(c.Request.Context(), ss.PartnerID)
	var prog db.Program
	if err == nil {
		prog, err = s.store.GetProgram(c.Request.Context(), p.ProgramID)
	}
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "your program could not be read just now")
		return prog, false
	}
	return prog, true
}

func (s *Server) partnersPage(c *gin.Context, ss *session) {
	q := queryOf(c, "status", "program_id", "tier_id", "partner_type", "cursor")
	q.Set("limit", "100")
	var list struct {
		Data       []obj
		NextCursor string `json:"next_cursor"`
	}
	if !s.read(c, ss, "/v1/partners", nil, q, &list) {
		return
	}
	programs, _ := s.store.ListProgramNames(c.Request.Context())
	var program struct{ Tiers []obj } // a program's tiers filter its partners
	if id := q.Get("program_id"); id != "" {
		s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/programs/:id", Params: gin.Params{{Key: "id", Value: id}}}).decode(&program)
	}
	s.render(c, http.StatusOK, "partners", view{Title: "Partners", Data: obj{"Partners": list.Data, "Next": list.NextCursor, "Programs": programs, "Query": q, "Tiers": program.Tiers, "TierNames": tierNames(program.Tiers)}})
}

func (s *Server) partnerPage(c *gin.Context, ss *session) {
	var p obj
	if !s.read(c, ss, "/v1/partners/:id", idParam(c), nil, &p) {
		return
	}
	s.render(c, http.StatusOK, "partner", view{Title: fmt.Sprint(p["company"]), Data: p})
}

func (s *Server) conversionPage(c *gin.Context, ss *session) {
	var conv obj
	if !s.read(c, ss, "/v1/conversions/:id", idParam(c), nil, &conv) {
		return
	}
	s.render(c, http.StatusOK, "conversion", view{Title: "Conversion", Data: conv})
}

func (s *Server) pipelinePage(c *gin.Context, ss *session) {
	var rep struct {
		Groups []obj
		From   string
		To     string
	}
	if !s.read(c, ss, "/v1/reports/pipeline", nil, url.Values{"group_by": {"stage"}}, &rep) {
		return
	}
	var bars []bar
	for _, g := range rep.Groups {
		bars = append(bars, bar{Label: fmt.Sprint(g["group_label"]), Value: fmt.Sprint(g["total_value"])})
	}
	s.render(c, http.StatusOK, "pipeline", view{Title: "Pipeline", Data: obj{"Report": rep, "Chart": barChart(bars, "Open pipeline by stage (deal value)")}})
}

func (s *Server) linksPage(c *gin.Context, ss *session) {
	var links struct{ Data []obj }
	if !s.read(c, ss, "/v1/links", nil, url.Values{"limit": {"100"}}, &links) {
		return
	}
	prog, ok := s.partnerProgram(c, ss)
	if !ok {
		return
	}
	program := prog.ID.String()
	var byLink, byDay struct{ Groups []obj }
	s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/reports/affiliate", Query: url.Values{"program_id": {program}, "group_by": {"link"}}}).decode(&byLink)
	s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/reports/affiliate", Query: url.Values{"program_id": {program}, "group_by": {"day"}}}).decode(&byDay)
	stats := map[string]obj{}
	for _, g := range byLink.Groups {
		stats[fmt.Sprint(g["group_key"])] = g
	}
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -30)
	s.render(c, http.StatusOK, "links", view{Title: "Links", Data: obj{"Links": links.Data, "Stats": stats,
		"Clicks":      columnChart(dailySeries(byDay.Groups, from, to, "clicks"), "Clicks per day, last 30 days, all links"),
		"Conversions": columnChart(dailySeries(byDay.Groups, from, to, "conversions"), "Conversions per day, last 30 days, all links")}})
}

// linkPage: one link's clicks and conversions per day.
func (s *Server) linkPage(c *gin.Context, ss *session) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.renderError(c, ss, http.StatusNotFound, "Not Found", "no such link")
		return
	}
	var links struct{ Data []obj }
	if !s.read(c, ss, "/v1/links", nil, url.Values{"limit": {"200"}}, &links) {
		return
	}
	var link obj
	for _, l := range links.Data {
		if fmt.Sprint(l["id"]) == id.String() {
			link = l
		}
	}
	if link == nil {
		s.renderError(c, ss, http.StatusNotFound, "Not Found", "link not found")
		return
	}
	var byDay struct{ Groups []obj }
	s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/reports/affiliate",
		Query: url.Values{"program_id": {fmt.Sprint(link["program_id"])}, "group_by": {"day"}, "link_id": {id.String()}}}).decode(&byDay)
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -30)
	s.render(c, http.StatusOK, "link", view{Title: "Link " + fmt.Sprint(link["code"]), Data: obj{"Link": link, "Days": byDay.Groups,
		"Clicks":      columnChart(dailySeries(byDay.Groups, from, to, "clicks"), "Clicks per day, last 30 days"),
		"Conversions": columnChart(dailySeries(byDay.Groups, from, to, "conversions"), "Conversions per day, last 30 days")}})
}

// statementsCSVPage streams the API's statements CSV (a partner its own;
// finance a partner's, with partner_id).
func (s *Server) statementsCSVPage(c *gin.Context, ss *session) {
	s.download(c, ss, apiCall{Method: http.MethodGet, Route: "/v1/statements.csv", Query: queryOf(c, "partner_id", "month")})
}

// statementsPage: finance reads one partner's statements with every line.
func (s *Server) statementsPage(c *gin.Context, ss *session) {
	q := url.Values{"partner_id": {c.Query("partner_id")}}
	if v := c.Query("month"); v != "" {
		q.Set("month", v)
	}
	var st struct{ Data []obj }
	if !s.read(c, ss, "/v1/statements", nil, q, &st) {
		return
	}
	s.render(c, http.StatusOK, "statements", view{Title: "Statements", Data: obj{"Statements": st.Data, "Query": template.URL(q.Encode())}})
}

func (s *Server) earningsPage(c *gin.Context, ss *session) {
	var st struct{ Data []obj }
	if !s.read(c, ss, "/v1/statements", nil, nil, &st) {
		return
	}
	earnings, _ := s.store.PartnerEarnings(c.Request.Context(), ss.PartnerID)
	s.render(c, http.StatusOK, "earnings", view{Title: "Earnings", Data: obj{"Statements": st.Data,
		"Pending": earnings.Pending.String(), "Payable": earnings.Payable.String(), "Paid": earnings.Paid.String()}})
}

func (s *Server) notificationsPage(c *gin.Context, ss *session) {
	var list struct{ Data []obj }
	if !s.read(c, ss, "/v1/me/notifications", nil, url.Values{"limit": {"100"}}, &list) {
		return
	}
	s.render(c, http.StatusOK, "notifications", view{Title: "Notifications", Data: list.Data})
}

func (s *Server) teamPage(c *gin.Context, ss *session) {
	users, err := s.store.ListPartnerUsers(c.Request.Context(), uuid.NullUUID{UUID: ss.PartnerID, Valid: true})
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "the team could not be read just now")
		return
	}
	s.render(c, http.StatusOK, "team", view{Title: "Team", Data: users})
}

// inviteColleague adds a user to the partner's organisation and mails them a
// sign-in link.
func (s *Server) inviteColleague(c *gin.Context, ss *session) {
	form, err := formValues(c)
	var email string
	if err == nil {
		email, err = normalizeEmail(form.Get("email"))
	}
	name := strings.TrimSpace(form.Get("name"))
	if err == nil && len(name) > 200 {
		err = fmt.Errorf("the name may be at most 200 characters")
	}
	if err != nil {
		redirectFlash(c, "/team", "error: "+err.Error())
		return
	}
	err = s.store.InTx(c.Request.Context(), func(q *db.Queries) error {
		u, err := CreateUser(c.Request.Context(), q, email, name, "partner", uuid.NullUUID{UUID: ss.PartnerID, Valid: true}, uuid.NullUUID{UUID: ss.UserID, Valid: true})
		if err != nil {
			return err
		}
		return audit(c.Request.Context(), c, q, "user.invite", "user", u.ID, "", gin.H{"email": u.Email, "partner_id": ss.PartnerID})
	})
	if err != nil {
		_, d := s.classify(err)
		redirectFlash(c, "/team", "error: "+d.Message)
		return
	}
	if s.cfg.Portal.Mailer != nil {
		if err := s.sendSignInLink(c, email, "/"); err != nil {
			s.logger.WarnContext(c.Request.Context(), "mail an invitation", "error", err, "request_id", requestID(c))
		}
	}
	redirectFlash(c, "/team", email+" is invited: a sign-in link is on its way")
}

func (s *Server) closesPage(c *gin.Context, ss *session) {
	rows, err := s.store.ListCloses(c.Request.Context(), db.ListClosesParams{Lim: 100, Off: 0})
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "the closes could not be read just now")
		return
	}
	programs, _ := s.store.ListProgramNames(c.Request.Context())
	last := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")
	s.render(c, http.StatusOK, "closes", view{Title: "Monthly closes", Data: obj{"Closes": rows, "Programs": programs, "LastMonth": last}})
}

func (s *Server) startClosePage(c *gin.Context, ss *session) {
	form, err := formValues(c)
	if err != nil {
		redirectFlash(c, "/closes", "error: "+err.Error())
		return
	}
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/closes", Body: obj{"program_id": form.Get("program_id"), "month": form.Get("month")}, IdempotencyKey: form.Get("idempotency_key")})
	if !r.ok() {
		redirectFlash(c, "/closes", "error: "+r.errorDetail().Message)
		return
	}
	var cl obj
	_ = r.decode(&cl)
	redirectFlash(c, "/closes/"+fmt.Sprint(cl["id"]), "Close started: the statements are being computed")
}

func (s *Server) closePage(c *gin.Context, ss *session) {
	var cl obj
	if !s.read(c, ss, "/v1/closes/:id", idParam(c), nil, &cl) {
		return
	}
	s.render(c, http.StatusOK, "close", view{Title: "Close " + fmt.Sprint(cl["month"]), Data: cl})
}

func (s *Server) closeCSV(c *gin.Context, ss *session) {
	s.download(c, ss, apiCall{Method: http.MethodGet, Route: "/v1/closes/:id/statements.csv", Params: idParam(c)})
}

func (s *Server) payoutsPage(c *gin.Context, ss *session) {
	var status *string
	if v := c.Query("status"); v != "" && len(v) < 20 {
		status = &v
	}
	rows, err := s.store.ListAllPayouts(c.Request.Context(), db.ListAllPayoutsParams{Status: status, Lim: 200, Off: 0})
	if err != nil {
		s.renderError(c, ss, http.StatusServiceUnavailable, "Try again", "the payouts could not be read just now")
		return
	}
	s.render(c, http.StatusOK, "payouts", view{Title: "Payouts", Data: obj{"Payouts": rows, "Status": c.Query("status")}})
}

func (s *Server) mdfReportPage(c *gin.Context, ss *session) {
	var rep struct {
		Quarter  string
		Tiers    []obj
		Partners []obj
	}
	q := queryOf(c, "quarter")
	if !s.read(c, ss, "/v1/reports/mdf", nil, q, &rep) {
		return
	}
	var bars []bar
	for _, t := range rep.Tiers {
		bars = append(bars, bar{Label: fmt.Sprint(t["tier"]) + " allocated", Value: fmt.Sprint(t["allocated"])},
			bar{Label: fmt.Sprint(t["tier"]) + " claimed", Value: fmt.Sprint(t["claimed"])})
	}
	s.render(c, http.StatusOK, "mdf_report", view{Title: "MDF utilisation", Data: obj{"Report": rep, "Chart": barChart(bars, "MDF "+rep.Quarter+": allocated and claimed by tier")}})
}

var _ = json.Marshal

func (s *Server) conversionsPage(c *gin.Context, ss *session) {
	prog, ok := s.partnerProgram(c, ss)
	if !ok {
		return
	}
	q := queryOf(c, "cursor")
	q.Set("limit", "100")
	q.Set("program_id", prog.ID.String())
	var list struct {
		Data       []obj
		NextCursor string `json:"next_cursor"`
	}
	if !s.read(c, ss, "/v1/conversions", nil, q, &list) {
		return
	}
	s.render(c, http.StatusOK, "conversions", view{Title: "Conversions", Data: obj{"Conversions": list.Data, "Next": list.NextCursor}})
}

func (s *Server) payoutDetailsPage(c *gin.Context, ss *session) {
	var d obj
	if !s.read(c, ss, "/v1/me/payout-details", nil, nil, &d) {
		return
	}
	s.render(c, http.StatusOK, "payout_details", view{Title: "Payout details", Data: d})
}

// setPayoutDetailsPage sends the form's fields for the chosen method only.
func (s *Server) setPayoutDetailsPage(c *gin.Context, ss *session) {
	form, err := formValues(c)
	if err != nil {
		redirectFlash(c, "/payout-details", "error: "+err.Error())
		return
	}
	method := form.Get("method")
	body := obj{"method": method}
	fields := map[string][]string{"bank": {"holder", "iban", "bic"}, "paypal": {"email"}, "provider": {"account_id"}}[method]
	for _, k := range fields {
		body[k] = strings.TrimSpace(form.Get(k))
	}
	r := s.invoke(c, apiCall{Method: http.MethodPut, Route: "/v1/me/payout-details", Body: body})
	if !r.ok() {
		redirectFlash(c, "/payout-details", "error: "+r.errorDetail().Message)
		return
	}
	redirectFlash(c, "/payout-details", "Payout details saved")
}

func (s *Server) webhooksPage(c *gin.Context, ss *session) {
	var list struct{ Data []obj }
	if !s.read(c, ss, "/v1/webhook-endpoints", nil, url.Values{"limit": {"100"}}, &list) {
		return
	}
	s.render(c, http.StatusOK, "webhooks", view{Title: "Webhook endpoints", Data: obj{"Endpoints": list.Data, "EventTypes": domain.EventTypes}})
}

// createWebhookPage registers an endpoint and shows its signing secret, once,
// on the answer itself (never in a redirect or a cookie).
func (s *Server) createWebhookPage(c *gin.Context, ss *session) {
	form, err := formValues(c)
	if err != nil {
		redirectFlash(c, "/webhooks", "error: "+err.Error())
		return
	}
	types := form["event_types"]
	if types == nil {
		types = []string{}
	}
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/webhook-endpoints", IdempotencyKey: form.Get("idempotency_key"),
		Body: obj{"url": strings.TrimSpace(form.Get("url")), "event_types": types, "description": form.Get("description")}})
	if !r.ok() {
		redirectFlash(c, "/webhooks", "error: "+r.errorDetail().Message)
		return
	}
	var ep obj
	_ = r.decode(&ep)
	s.render(c, http.StatusCreated, "webhook_created", view{Title: "Webhook endpoint added", Data: ep})
}

func (s *Server) webhookPage(c *gin.Context, ss *session) {
	var list struct{ Data []obj }
	if !s.read(c, ss, "/v1/webhook-endpoints/:id/deliveries", idParam(c), url.Values{"limit": {"50"}}, &list) {
		return
	}
	s.render(c, http.StatusOK, "webhook", view{Title: "Deliveries", Data: obj{"ID": c.Param("id"), "Deliveries": list.Data}})
}

func (s *Server) disableWebhookPage(c *gin.Context, ss *session) {
	r := s.invoke(c, apiCall{Method: http.MethodDelete, Route: "/v1/webhook-endpoints/:id", Params: idParam(c)})
	if !r.ok() {
		redirectFlash(c, "/webhooks", "error: "+r.errorDetail().Message)
		return
	}
	redirectFlash(c, "/webhooks", "Endpoint disabled: nothing more is sent to it")
}

// rotateWebhookSecretPage makes a new signing secret and shows it once (the
// previous one keeps signing until the next rotation).
func (s *Server) rotateWebhookSecretPage(c *gin.Context, ss *session) {
	r := s.invoke(c, apiCall{Method: http.MethodPost, Route: "/v1/webhook-endpoints/:id/secrets", Params: idParam(c), Body: obj{}, IdempotencyKey: c.PostForm("idempotency_key")})
	if !r.ok() {
		redirectFlash(c, "/webhooks", "error: "+r.errorDetail().Message)
		return
	}
	var ep obj
	_ = r.decode(&ep)
	s.render(c, http.StatusOK, "webhook_created", view{Title: "New signing secret", Data: ep})
}

func tierNames(tiers []obj) map[string]string {
	out := map[string]string{}
	for _, t := range tiers {
		out[fmt.Sprint(t["id"])] = fmt.Sprint(t["name"])
	}
	return out
}

// conversionsCSVPage writes the partner's conversions as CSV, read page by page
// through the API's list (formula-safe text cells).
func (s *Server) conversionsCSVPage(c *gin.Context, ss *session) {
	prog, ok := s.partnerProgram(c, ss)
	if !ok {
		return
	}
	var rows [][]string
	q := url.Values{"limit": {"200"}, "program_id": {prog.ID.String()}}
	for page := 0; page < 500; page++ { // at most 100,000 rows
		var list struct {
			Data       []obj
			NextCursor string `json:"next_cursor"`
		}
		r := s.invoke(c, apiCall{Method: http.MethodGet, Route: "/v1/conversions", Query: q})
		if !r.ok() || r.decode(&list) != nil {
			s.renderAPIError(c, ss, r)
			return
		}
		for _, v := range list.Data {
			field := func(k string) string {
				if v[k] == nil {
					return ""
				}
				return domain.CSVText(fmt.Sprint(v[k]))
			}
			rows = append(rows, []string{field("occurred_at"), field("kind"), field("external_id"), field("order_id"), field("amount"), field("currency"),
				field("attribution_method"), field("review_status"), field("id")})
		}
		if list.NextCursor == "" {
			break
		}
		q.Set("cursor", list.NextCursor)
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", "attachment; filename=conversions.csv")
	w := csv.NewWriter(c.Writer)
	_ = w.Write([]string{"occurred_at", "kind", "external_id", "order_id", "amount", "currency", "attribution_method", "review_status", "id"})
	_ = w.WriteAll(rows)
}

func (s *Server) disableUserPage(c *gin.Context, ss *session) {
	r := s.invoke(c, apiCall{Method: http.MethodDelete, Route: "/v1/users/:id", Params: idParam(c)})
	if !r.ok() {
		redirectFlash(c, "/users", "error: "+r.errorDetail().Message)
		return
	}
	redirectFlash(c, "/users", "User disabled: signed out everywhere, and no sign-in link will be sent")
}
