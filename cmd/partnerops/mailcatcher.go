// mailCatcher is a local SMTP server that keeps what it is sent and
// shows it on a web page: make run's mail inbox (so a newcomer sees the e-mails
// partnerops sends) and the tests' real SMTP peer. Built on emersion/go-smtp.
package main

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// caughtMail is one e-mail caught.
type caughtMail struct {
	At      time.Time `json:"at"`
	From    string    `json:"from"`
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"` // the text/plain part
	HTML    string    `json:"html"` // the text/html part
	Raw     string    `json:"-"`
}

// mailCatcher is a running SMTP server and what it caught (the last 200).
type mailCatcher struct {
	mu   sync.Mutex
	msgs []caughtMail
	srv  *smtp.Server
	ln   net.Listener
}

// startMailCatcher listens for SMTP on addr ("127.0.0.1:0" for a free port).
func startMailCatcher(addr string) (*mailCatcher, error) {
	c := &mailCatcher{}
	srv := smtp.NewServer(c)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	srv.ReadTimeout, srv.WriteTimeout, srv.MaxMessageBytes = 10*time.Second, 10*time.Second, 10<<20
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.srv, c.ln = srv, ln
	go srv.Serve(ln)
	return c, nil
}

// Addr is where it listens.
func (c *mailCatcher) Addr() string { return c.ln.Addr().String() }

func (c *mailCatcher) Close() error { return c.srv.Close() }

// Messages are what was caught, newest first.
func (c *mailCatcher) Messages() []caughtMail {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]caughtMail{}, c.msgs...) // [] when empty, never null
}

func (c *mailCatcher) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }

type session struct {
	c    *mailCatcher
	from string
	to   []string
}

func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) AuthMechanisms() []string                    { return nil }
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := caughtMail{At: time.Now().UTC(), From: s.from, To: s.to, Raw: string(raw)}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		m.Text, m.HTML = parts(msg.Header.Get("Content-Type"), msg.Body)
	}
	s.c.mu.Lock()
	s.c.msgs = append([]caughtMail{m}, s.c.msgs...)
	if len(s.c.msgs) > 200 {
		s.c.msgs = s.c.msgs[:200]
	}
	s.c.mu.Unlock()
	return nil
}

// parts finds the text and HTML bodies of a (possibly multipart) message.
func parts(contentType string, body io.Reader) (text, html string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(body)
		if strings.HasPrefix(mt, "text/html") {
			return "", string(b)
		}
		return string(b), ""
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return text, html
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(pt, "multipart/"):
			t, h := parts(p.Header.Get("Content-Type"), p)
			text, html = text+t, html+h
		case pt == "text/html":
			b, _ := io.ReadAll(p) // multipart.Reader undoes quoted-printable
			html += string(b)
		case pt == "text/plain" || pt == "":
			b, _ := io.ReadAll(p) // multipart.Reader undoes quoted-printable
			text += string(b)
		}
	}
}

var inboxPage = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>partnerops mail inbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}article{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
h2{font-size:1.1rem;margin:0 0 .3rem}small{color:#555}pre{white-space:pre-wrap}</style></head>
<body><h1>Mail inbox (make run)</h1><p>{{len .}} e-mail(s), newest first. <a href="?">Refresh</a> · <a href="mail.json">JSON</a></p>
{{range .}}<article><h2>{{.Subject}}</h2><small>{{.At.Format "2006-01-02 15:04:05"}} UTC · from {{.From}} · to {{range .To}}{{.}} {{end}}</small>
<pre>{{.Text}}</pre></article>{{end}}</body></html>`))

// Handler serves the inbox: GET <prefix> (HTML) and GET <prefix>.json.
func (c *mailCatcher) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".json") {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(c.Messages())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = inboxPage.Execute(w, c.Messages())
	})
}
