package activities

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"strconv"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"
	"go.temporal.io/sdk/temporal"
)

// EmailDeliveryWorkflow is the registered name of the e-mail workflow
// (workflows/email_delivery.go); activities start it by name.
const EmailDeliveryWorkflow = "EmailDelivery"

// Mailer sends e-mail over SMTP, configured by SMTP_URL:
// smtp://[user:password@]host:port (STARTTLS when offered) or smtps://… (TLS).
type Mailer struct {
	Host, Username, Password string
	Port                     int
	ImplicitTLS              bool
	From                     string
}

// ParseSMTPURL reads SMTP_URL.
func ParseSMTPURL(raw, from string) (*Mailer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP_URL reads smtp://[user:password@]host:port or smtps://…")
	}
	m := &Mailer{Host: u.Hostname(), ImplicitTLS: u.Scheme == "smtps", From: from, Port: 25}
	if u.Scheme == "smtps" {
		m.Port = 465
	}
	if p := u.Port(); p != "" {
		if m.Port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP_URL's port: %w", err)
		}
	}
	if u.User != nil {
		m.Username = u.User.Username()
		m.Password, _ = u.User.Password()
	}
	return m, nil
}

// Email is one notification e-mail to send.
type Email struct {
	To        string `json:"to"`
	Name      string `json:"name"`
	Program   string `json:"program"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
	DedupeKey string `json:"dedupe_key"` // the notification's: one e-mail per notification
}

//go:embed templates/notification.txt.tmpl templates/notification.html.tmpl
var emailTemplates embed.FS

var (
	textTemplate = texttemplate.Must(texttemplate.ParseFS(emailTemplates, "templates/notification.txt.tmpl"))
	htmlTemplate = htmltemplate.Must(htmltemplate.ParseFS(emailTemplates, "templates/notification.html.tmpl"))
)

// Render is an e-mail's subject, plain text and HTML.
func (e Email) Render() (subject, text, html string, err error) {
	var t, h bytes.Buffer
	if err := textTemplate.Execute(&t, e); err != nil {
		return "", "", "", err
	}
	if err := htmlTemplate.Execute(&h, e); err != nil {
		return "", "", "", err
	}
	subject = e.Message
	if r := []rune(subject); len(r) > 90 {
		subject = string(r[:89]) + "…"
	}
	return "partnerops: " + subject, t.String(), h.String(), nil
}

// MuteKey is the preference a notification kind answers to: the kind without
// its sequence number (deal_won_rejected_3 → deal_won_rejected).
func MuteKey(kind string) string { return kindSeq.ReplaceAllString(kind, "") }

var kindSeq = regexp.MustCompile(`_\d+$`)

// SendEmail makes one attempt at sending a notification e-mail; the workflow's
// retry policy is the backoff.
func (a *Activities) SendEmail(ctx context.Context, e Email) error {
	if a.Mail == nil {
		return temporal.NewNonRetryableApplicationError("e-mail is not configured (SMTP_URL)", ErrPermanent, nil)
	}
	subject, text, html, err := e.Render()
	if err != nil {
		return temporal.NewNonRetryableApplicationError("render: "+err.Error(), ErrPermanent, err)
	}
	if err := a.Mail.Send(ctx, e.To, subject, text, html, map[string]string{"X-Partnerops-Notification": e.DedupeKey}); err != nil {
		if errors.Is(err, errBadMessage) {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrPermanent, err)
		}
		return err
	}
	return nil
}

// errBadMessage marks a message that no retry can send (a bad address or sender).
var errBadMessage = errors.New("the message cannot be sent")

// Send sends one e-mail with a plain-text body and its HTML alternative. An error
// wrapping errBadMessage can never succeed; any other may on a retry.
func (m *Mailer) Send(ctx context.Context, to, subject, text, html string, headers map[string]string) error {
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("%w: MAIL_FROM: %s", errBadMessage, err)
	}
	if err := msg.To(to); err != nil {
		return fmt.Errorf("%w: the recipient's address: %s", errBadMessage, err)
	}
	msg.Subject(subject)
	msg.SetMessageID()
	for k, v := range headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	opts := []mail.Option{mail.WithPort(m.Port), mail.WithTimeout(10 * time.Second)}
	if m.ImplicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if m.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(m.Username), mail.WithPassword(m.Password))
	}
	client, err := mail.NewClient(m.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: SMTP client: %s", errBadMessage, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return errors.New("SMTP: " + err.Error())
	}
	return nil
}
