package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/db"
)

// Sign-in by e-mail link: the address gets a one-time link, valid for
// SignInTTL; opening it shows a button (so a mail scanner that fetches links
// does not use it up), and pressing it starts a session. Whether an address has
// an account is never told.

// maxSignInMails bounds the links one user can be sent in 15 minutes.
const maxSignInMails = 5

func (s *Server) loginPage(c *gin.Context) {
	if _, ok := s.signedIn(c); ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, "login", view{Title: "Sign in", CSRF: preCSRF(c), Form: url.Values{"next": {safeNext(c.Query("next"))}}})
}

// preCSRF is the sign-in forms' CSRF token, kept in a cookie of its own.
func preCSRF(c *gin.Context) string {
	if v, err := c.Cookie(preCSRFCookie); err == nil && len(v) == 43 {
		return v
	}
	v := newSecret()
	setCookie(c, preCSRFCookie, v, 3600)
	return v
}

func preCSRFOK(c *gin.Context) bool {
	cookie, err := c.Cookie(preCSRFCookie)
	form := c.PostForm("csrf")
	return err == nil && cookie != "" && subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) == 1
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 500 || !cleanText(next) {
		return "/"
	}
	return next
}

func (s *Server) requestSignIn(c *gin.Context) {
	form, err := formValues(c)
	if err == nil && !preCSRFOK(c) {
		err = errors.New("the form has expired; reload the page and try again")
	}
	var email string
	if err == nil {
		email, err = normalizeEmail(form.Get("email"))
	}
	if err != nil {
		s.render(c, http.StatusBadRequest, "login", view{Title: "Sign in", CSRF: preCSRF(c), Form: form, Error: &ErrorDetail{Field: "email", Message: err.Error()}})
		return
	}
	if s.cfg.Portal.Mailer == nil {
		s.render(c, http.StatusServiceUnavailable, "login", view{Title: "Sign in", CSRF: preCSRF(c), Form: form,
			Error: &ErrorDetail{Message: "sign-in by e-mail is not configured on this server (SMTP_URL)"}})
		return
	}
	if err := s.sendSignInLink(c, email, safeNext(form.Get("next"))); err != nil {
		s.logger.ErrorContext(c.Request.Context(), "send a sign-in link", "error", err, "request_id", requestID(c))
		s.render(c, http.StatusServiceUnavailable, "login", view{Title: "Sign in", CSRF: preCSRF(c), Form: form,
			Error: &ErrorDetail{Message: "the sign-in e-mail could not be sent just now; try again in a minute"}})
		return
	}
	s.render(c, http.StatusOK, "login_sent", view{Title: "Check your inbox", Data: email})
}

func normalizeEmail(raw string) (string, error) {
	raw = strings.ToLower(strings.TrimSpace(raw))
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Address != raw || len(raw) > 254 || !strings.Contains(raw, "@") {
		return "", errors.New("enter an e-mail address such as ana@example.com")
	}
	return raw, nil
}

// sendSignInLink mails a link when the address belongs to someone; otherwise
// it does nothing, and the answer is the same.
func (s *Server) sendSignInLink(c *gin.Context, email, next string) error {
	ctx := c.Request.Context()
	u, err := s.userByEmail(c, email)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && u.DisabledAt != nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if n, err := s.store.CountRecentSignInTokens(ctx, u.ID); err != nil || n >= maxSignInMails {
		return err // too many: quietly none (the inbox already has links)
	}
	token := newSecret()
	if err := s.store.CreateSignInToken(ctx, db.CreateSignInTokenParams{TokenHash: hashSecret(token), UserID: u.ID, ExpiresAt: time.Now().Add(s.cfg.Portal.SignInTTL)}); err != nil {
		return err
	}
	link := strings.TrimSuffix(s.cfg.Portal.PublicURL, "/") + "/login/confirm?" + url.Values{"token": {token}, "next": {next}}.Encode()
	mins := int(s.cfg.Portal.SignInTTL.Minutes())
	text := fmt.Sprintf("Hello %s,\n\nopen this link to sign in to partnerops (it works once, for %d minutes):\n\n%s\n\nIf you did not ask for it, ignore this e-mail: nobody can sign in without the link.\n", u.Name, mins, link)
	var html strings.Builder
	_ = signInMailHTML.Execute(&html, map[string]any{"Name": u.Name, "Link": link, "Minutes": mins})
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return s.cfg.Portal.Mailer.Send(mctx, email, "partnerops: your sign-in link", text, html.String(), map[string]string{"X-Partnerops-Sign-In": "1"})
}

var signInMailHTML = template.Must(template.New("signin").Parse(`<!doctype html><html><body style="font-family: sans-serif">
<p>Hello {{.Name}},</p><p><a href="{{.Link}}">Sign in to partnerops</a> (the link works once, for {{.Minutes}} minutes).</p>
<p>If you did not ask for it, ignore this e-mail: nobody can sign in without the link.</p></body></html>`))

// confirmPage shows the button that uses the link.
func (s *Server) confirmPage(c *gin.Context) {
	token := c.Query("token")
	if token == "" || len(token) > 100 {
		s.render(c, http.StatusBadRequest, "error", view{Title: "Sign-in link", Error: &ErrorDetail{Message: "this sign-in link is incomplete; ask for a new one"}})
		return
	}
	s.render(c, http.StatusOK, "login_confirm", view{Title: "Sign in", CSRF: preCSRF(c), Form: url.Values{"token": {token}, "next": {safeNext(c.Query("next"))}}})
}

func (s *Server) confirmSignIn(c *gin.Context) {
	form, err := formValues(c)
	if err != nil || !preCSRFOK(c) {
		s.render(c, http.StatusForbidden, "error", view{Title: "The form has expired", Error: &ErrorDetail{Message: "open the link from your e-mail again"}})
		return
	}
	ctx := c.Request.Context()
	userID, err := s.store.UseSignInToken(ctx, hashSecret(form.Get("token")))
	if errors.Is(err, pgx.ErrNoRows) {
		s.render(c, http.StatusBadRequest, "login", view{Title: "Sign in", CSRF: preCSRF(c),
			Error: &ErrorDetail{Message: "that sign-in link was already used or has expired; ask for a new one"}})
		return
	}
	if err != nil {
		s.renderError(c, nil, http.StatusServiceUnavailable, "Try again", "signing in failed just now; open the link again in a minute")
		return
	}
	id := newSecret()
	if err := s.store.CreateSession(ctx, db.CreateSessionParams{IDHash: hashSecret(id), UserID: userID, CsrfToken: newSecret(), ExpiresAt: time.Now().Add(s.cfg.Portal.SessionTTL)}); err != nil {
		s.renderError(c, nil, http.StatusServiceUnavailable, "Try again", "signing in failed just now; ask for a new link")
		return
	}
	setCookie(c, sessionCookie, id, int(s.cfg.Portal.SessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, safeNext(form.Get("next")))
}

func (s *Server) logout(c *gin.Context, ss *session) {
	_ = s.store.EndSession(c.Request.Context(), ss.IDHash)
	setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}
