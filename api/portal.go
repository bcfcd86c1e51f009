package api

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// The portal: server-rendered pages under / for partners and staff, signed in by
// an e-mailed link. Pages are an adapter over the API: a page reads and decides
// by running the API route's own handler in-process (invoke), with the signed-in
// user as the caller, so a rule, an authorization check or a decision has one
// code path whether it arrives by API key or by a browser. No page calls the API
// over HTTP, and no page decides anything itself.

// PortalConfig configures sign-in and the links pages print.
type PortalConfig struct {
	Mailer     *activities.Mailer // sends sign-in links; nil: sign-in is off
	PublicURL  string             // the address people reach the portal at (sign-in links)
	SessionTTL time.Duration      // a session's lifetime
	SignInTTL  time.Duration      // a sign-in link's lifetime
	TemporalUI string             // e.g. http://127.0.0.1:8233 (workflow history links); empty: none
	Namespace  string             // the Temporal namespace, for those links
}

func DefaultPortalConfig() PortalConfig {
	return PortalConfig{PublicURL: "http://127.0.0.1:8080", SessionTTL: 12 * time.Hour, SignInTTL: 15 * time.Minute, Namespace: "default"}
}

const (
	sessionCookie = "po_session"
	// preCSRFCookie carries the CSRF token of the sign-in forms (no session yet):
	// the form's copy must match the cookie's (double submit).
	preCSRFCookie = "po_csrf"
	sessionKey    = "partnerops.session"
)

//go:embed portal
var portalFS embed.FS

// PortalPage is one registered page and the roles that may open it.
type PortalPage struct {
	Method string
	Path   string
	Roles  []string
}

// session is a signed-in browser.
type session struct {
	IDHash    []byte
	CSRF      string
	UserID    uuid.UUID
	Email     string
	Name      string
	Role      string
	PartnerID uuid.UUID
}

// pageHandler serves one page for a signed-in user.
type pageHandler func(c *gin.Context, ss *session)

// page registers a page that needs a session with one of roles. A POST must
// carry the session's CSRF token.
func (s *Server) page(method, path string, roles []string, h pageHandler) {
	if len(roles) == 0 {
		panic("page " + method + " " + path + " declares no roles")
	}
	s.pages = append(s.pages, PortalPage{Method: method, Path: openAPIPath(path), Roles: roles})
	s.engine.Handle(method, path, s.noStore, func(c *gin.Context) {
		ss, ok := s.signedIn(c)
		if !ok {
			next := url.Values{"next": {c.Request.URL.RequestURI()}}
			if c.Request.Method != http.MethodGet {
				next = nil
			}
			to := "/login"
			if len(next) > 0 {
				to += "?" + next.Encode()
			}
			c.Redirect(http.StatusSeeOther, to)
			return
		}
		// The same per-caller budget as an API key's (API_RATE_LIMIT), per user.
		if q := s.limiter.take("user:" + ss.UserID.String()); !q.ok {
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(q.retryAfter.Seconds())))))
			s.renderError(c, ss, http.StatusTooManyRequests, "Slow down", "Too many requests in a short time; wait a moment and try again.")
			return
		}
		if !slices.Contains(roles, ss.Role) {
			s.renderError(c, ss, http.StatusForbidden, "Not for your role", "The "+ss.Role+" role cannot open this page.")
			return
		}
		if c.Request.Method == http.MethodPost {
			// A form is bounded like an API body; a claim's proof files like the API's.
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxFileBytes*maxProofFiles+1<<20)
			if strings.HasPrefix(c.ContentType(), "multipart/") {
				if err := c.Request.ParseMultipartForm(8 << 20); err != nil {
					s.renderError(c, ss, http.StatusRequestEntityTooLarge, "The form is too large",
						fmt.Sprintf("A claim may carry at most %d files of %d MB.", maxProofFiles, s.cfg.MaxFileBytes>>20))
					return
				}
			}
		}
		if c.Request.Method == http.MethodPost && !s.csrfOK(c, ss.CSRF) {
			s.renderError(c, ss, http.StatusForbidden, "The form has expired",
				"This form was not sent by a page of this site, or it is too old. Go back, reload the page and try again.")
			return
		}
		c.Set(callerKey, Caller{Role: ss.Role, PartnerID: ss.PartnerID, Label: ss.Email, UserID: ss.UserID})
		c.Set(sessionKey, ss)
		h(c, ss)
		if c.Request.MultipartForm != nil {
			_ = c.Request.MultipartForm.RemoveAll()
		}
	})
}

// publicPage registers a page anyone may open (sign-in).
func (s *Server) publicPage(method, path string, h gin.HandlerFunc) {
	s.pages = append(s.pages, PortalPage{Method: method, Path: openAPIPath(path), Roles: []string{Public}})
	handlers := []gin.HandlerFunc{s.noStore}
	if method != http.MethodGet {
		handlers = append(handlers, s.limitPublic)
	}
	s.engine.Handle(method, path, append(handlers, h)...)
}

// Pages lists every portal page with its roles.
func (s *Server) Pages() []PortalPage { return slices.Clone(s.pages) }

// noStore: pages show private data; no cache keeps them.
func (s *Server) noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	c.Header("Referrer-Policy", "same-origin")
	c.Next()
}

// signedIn reads the session cookie; a missing, ended or expired session is none.
func (s *Server) signedIn(c *gin.Context) (*session, bool) {
	raw, err := c.Cookie(sessionCookie)
	if err != nil || raw == "" || len(raw) > 100 || s.store == nil {
		return nil, false
	}
	hash := hashSecret(raw)
	row, err := s.store.GetSession(c.Request.Context(), hash)
	if err != nil {
		return nil, false
	}
	if time.Since(row.LastSeenAt) > time.Minute { // keeps "last seen" honest without a write per page
		_ = s.store.TouchSession(c.Request.Context(), hash)
	}
	return &session{IDHash: hash, CSRF: row.CsrfToken, UserID: row.UserID, Email: row.Email, Name: row.Name, Role: row.Role, PartnerID: row.PartnerID.UUID}, true
}

func (s *Server) csrfOK(c *gin.Context, want string) bool {
	got := c.PostForm("csrf")
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// newSecret is 32 random bytes, URL-safe.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// setCookie writes a portal cookie: HttpOnly, Secure, SameSite=Lax, the whole site.
// (Browsers keep Secure cookies sent by http://localhost and 127.0.0.1, so make
// run works without TLS; anywhere else the portal must be served over https.)
func setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// apiResult is what an API handler answered to invoke.
type apiResult struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r apiResult) ok() bool { return r.Status >= 200 && r.Status < 300 }

// decode reads a JSON answer into dst (numbers stay exact: json.Number).
func (r apiResult) decode(dst any) error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	return dec.Decode(dst)
}

// errorDetail is the API's error answer (for a failed result).
func (r apiResult) errorDetail() ErrorDetail {
	var b ErrorBody
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Error.Message == "" {
		return ErrorDetail{Code: "error", Message: fmt.Sprintf("the request failed (%d)", r.Status)}
	}
	return b.Error
}

// apiCall is one API operation a page runs.
type apiCall struct {
	Method      string
	Route       string // as registered: /v1/deals/:id
	Params      gin.Params
	Query       url.Values
	Body        any    // marshalled to JSON unless RawBody is set
	RawBody     []byte // with ContentType
	ContentType string
	// IdempotencyKey makes a double-submitted form one decision (the form carries it).
	IdempotencyKey string
}

// invoke runs an API route's handler for the signed-in caller, on a context of
// its own, and answers what it wrote. The route's roles are checked exactly as
// the API key middleware checks them.
func (s *Server) invoke(c *gin.Context, call apiCall) apiResult {
	route, ok := s.routeHandlers[call.Method+" "+call.Route]
	if !ok {
		panic("invoke: no route " + call.Method + " " + call.Route)
	}
	cl := caller(c)
	if !slices.Contains(route.Roles, cl.Role) {
		body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: "forbidden", Message: "the " + cl.Role + " role may not do this", RequestID: requestID(c)}})
		return apiResult{Status: http.StatusForbidden, Body: body}
	}
	body := call.RawBody
	ctype := call.ContentType
	if body == nil && call.Body != nil {
		body, _ = json.Marshal(call.Body)
		ctype = "application/json"
	}
	path := call.Route
	for _, p := range call.Params {
		path = strings.Replace(path, ":"+p.Key, url.PathEscape(p.Value), 1)
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), call.Method, path, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.URL.RawQuery = call.Query.Encode()
	// The same client, host and scheme as the page's request (links and
	// addresses the handler builds, the client address it records).
	req.RemoteAddr, req.Host, req.TLS = c.Request.RemoteAddr, c.Request.Host, c.Request.TLS
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "User-Agent"} {
		if v := c.Request.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	rec := httptest.NewRecorder()
	ic := gin.CreateTestContextOnly(rec, s.engine)
	ic.Request = req
	ic.Params = call.Params
	ic.Keys = maps.Clone(c.Keys)
	route.Handler(ic)
	return apiResult{Status: rec.Code, Body: rec.Body.Bytes(), Header: rec.Header()}
}

// formIdempotencyKey is a fresh key for a form; a resubmission sends it again.
func formIdempotencyKey() string { return "form-" + uuid.NewString() }

// formValues reads a page's form, refusing what no column could hold.
func formValues(c *gin.Context) (url.Values, error) {
	if err := c.Request.ParseForm(); err != nil {
		return nil, errors.New("the form could not be read")
	}
	for k, vs := range c.Request.PostForm {
		for _, v := range vs {
			if !cleanText(k) || !cleanText(v) {
				return nil, fmt.Errorf("%s holds a NUL byte or invalid UTF-8", k)
			}
		}
	}
	return c.Request.PostForm, nil
}

// view is what every page template gets.
type view struct {
	Title    string
	Session  *session
	CSRF     string
	Nav      []navItem
	Flash    string
	Error    *ErrorDetail
	Form     url.Values // the submitted form, to refill it after an error
	FormKey  string     // the idempotency key for the page's forms
	Data     any
	Temporal string // the Temporal UI's base for workflow links
	Now      time.Time
}

type navItem struct {
	Label, Href string
	Current     bool
}

func (v view) Value(name string) string { return v.Form.Get(name) }

func (v view) FieldError(name string) string {
	if v.Error != nil && v.Error.Field == name {
		return v.Error.Message
	}
	return ""
}

// WorkflowURL links a workflow to its page in the Temporal UI (a workflow ID
// without a run ID opens its latest run, history first).
func (v view) WorkflowURL(id string) string {
	if v.Temporal == "" || id == "" {
		return ""
	}
	return v.Temporal + "/" + url.PathEscape(id)
}

var navByRole = map[string][]navItem{
	"partner": {{Label: "Dashboard", Href: "/"}, {Label: "Deals", Href: "/deals"}, {Label: "MDF", Href: "/mdf"}, {Label: "Links", Href: "/links"},
		{Label: "Conversions", Href: "/conversions"}, {Label: "Earnings", Href: "/earnings"}, {Label: "Payout details", Href: "/payout-details"},
		{Label: "Notifications", Href: "/notifications"}, {Label: "Webhooks", Href: "/webhooks"}, {Label: "Team", Href: "/team"}},
	"manager": {{Label: "Inbox", Href: "/"}, {Label: "Partners", Href: "/partners"}, {Label: "Deals", Href: "/deals"}, {Label: "MDF", Href: "/mdf"}, {Label: "Pipeline", Href: "/pipeline"}},
	"finance": {{Label: "Closes", Href: "/"}, {Label: "Payouts", Href: "/payouts"}, {Label: "MDF utilisation", Href: "/mdf-report"}},
	"admin":   {{Label: "Home", Href: "/"}, {Label: "Partners", Href: "/partners"}, {Label: "Pipeline", Href: "/pipeline"}, {Label: "Users", Href: "/users"}},
}

// render writes a page: the layout around the named template.
func (s *Server) render(c *gin.Context, status int, name string, v view) {
	t, ok := s.templates[name]
	if !ok {
		panic("no page template " + name)
	}
	if ss, ok := c.Get(sessionKey); ok && v.Session == nil {
		v.Session = ss.(*session)
	}
	if v.Session != nil {
		v.CSRF = v.Session.CSRF
		for _, n := range navByRole[v.Session.Role] {
			n.Current = n.Href == c.Request.URL.Path || (n.Href != "/" && strings.HasPrefix(c.Request.URL.Path, n.Href+"/"))
			v.Nav = append(v.Nav, n)
		}
	}
	if v.FormKey == "" {
		v.FormKey = formIdempotencyKey()
	}
	if f, err := c.Cookie("po_flash"); err == nil && f != "" && v.Flash == "" {
		if raw, err := base64.RawURLEncoding.DecodeString(f); err == nil && cleanText(string(raw)) {
			v.Flash = string(raw)
		}
		setCookie(c, "po_flash", "", -1)
	}
	v.Temporal = s.temporalUIBase()
	v.Now = time.Now()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.logger.ErrorContext(c.Request.Context(), "render page", "page", name, "error", err, "request_id", requestID(c))
		c.String(http.StatusInternalServerError, "the page could not be shown")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (s *Server) temporalUIBase() string {
	if s.cfg.Portal.TemporalUI == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.Portal.TemporalUI, "/") + "/namespaces/" + url.PathEscape(s.cfg.Portal.Namespace) + "/workflows"
}

// redirectFlash answers a form with 303 to where the result shows, with a message.
func redirectFlash(c *gin.Context, to, flash string) {
	setCookie(c, "po_flash", base64.RawURLEncoding.EncodeToString([]byte(flash)), 60)
	c.Redirect(http.StatusSeeOther, to)
}

func (s *Server) renderError(c *gin.Context, ss *session, status int, title, message string) {
	s.render(c, status, "error", view{Title: title, Session: ss, Error: &ErrorDetail{Message: message}})
}

// renderAPIError shows a failed read as a page of its own (404 for a record the
// caller may not see, exactly as the API answers it).
func (s *Server) renderAPIError(c *gin.Context, ss *session, r apiResult) {
	d := r.errorDetail()
	title := http.StatusText(r.Status)
	if r.Status >= 500 {
		title = "Something went wrong"
	}
	s.render(c, r.Status, "error", view{Title: title, Session: ss, Error: &d})
}

// loadTemplates parses the layout with each page.
func loadTemplates() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(portalFS, "portal/layout.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"money":     formatMoney,
		"date":      formatDate,
		"when":      formatTime,
		"words":     func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
		"short":     func(s any) string { v := fmt.Sprint(s); return v[:min(8, len(v))] },
		"overdue":   func(t any) bool { tt, ok := parseTime(t); return ok && tt.Before(time.Now()) },
		"json":      func(v any) string { b, _ := json.Marshal(v); return string(b) },
		"barchart":  barChart,
		"list":      func(v ...string) []string { return v },
		"inc":       func(n int) int { return n + 1 },
		"dec":       func(n int) int { return n - 1 },
		"inboxLink": inboxLink,
		"eq":        func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
		"has": func(list any, v string) bool {
			items, _ := list.([]any)
			for _, it := range items {
				if fmt.Sprint(it) == v {
					return true
				}
			}
			return false
		},
	}
	entries, err := fs.Glob(portalFS, "portal/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "portal/"), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.New("layout").Funcs(funcs).Parse(string(layout)))
		body, err := fs.ReadFile(portalFS, e)
		if err != nil {
			return nil, err
		}
		if _, err := t.Parse(string(body)); err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// inboxLink is the page where an inbox item is decided.
func inboxLink(kind string, id uuid.UUID) string {
	switch kind {
	case "application":
		return "/partners/" + id.String()
	case "mdf_request", "mdf_claim":
		return "/mdf/" + id.String()
	case "conversion":
		return "/conversions/" + id.String()
	}
	return "/deals/" + id.String()
}

// servePortalCSS serves the portal's one stylesheet (cached; pages link it by hash).
func servePortalCSS(c *gin.Context) {
	css, _ := fs.ReadFile(portalFS, "portal/portal.css")
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, "text/css; charset=utf-8", css)
}

// userByEmail finds a user, or makes the first user of a partner whose
// application gave that address.
func (s *Server) userByEmail(c *gin.Context, email string) (db.User, error) {
	ctx := c.Request.Context()
	u, err := s.store.GetUserByEmail(ctx, email)
	if !errors.Is(err, pgx.ErrNoRows) {
		return u, err
	}
	p, err := s.store.FindPartnerContact(ctx, email)
	if err != nil {
		return db.User{}, err
	}
	u, err = CreateUser(ctx, s.store.Queries, email, p.Name, domain.RolePartner, uuid.NullUUID{UUID: p.ID, Valid: true}, uuid.NullUUID{})
	var de *domain.Error
	if errors.As(err, &de) && de.Code == "user_exists" { // made by a concurrent request
		return s.store.GetUserByEmail(ctx, email)
	}
	return u, err
}
