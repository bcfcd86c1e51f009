package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// webhookInbox is make run's demo receiver for outbound webhooks, on the demo
// services' port: POST /inbox/<name> keeps what arrived (the last 50 per name),
// GET /inbox/<name> shows it, newest first, so a newcomer sees the signed
// deliveries without running a server of their own.
type webhookInbox struct {
	mu   sync.Mutex
	byTo map[string][]inboxEntry
	next http.Handler
}

type inboxEntry struct {
	ReceivedAt time.Time         `json:"received_at"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
	Raw        string            `json:"raw"` // the body's exact bytes, to check the signature over
}

func (in *webhookInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/inbox/")
	if !ok || name == "" || strings.Contains(name, "/") || len(name) > 64 {
		in.next.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !json.Valid(body) {
			http.Error(w, "a JSON body", http.StatusBadRequest)
			return
		}
		e := inboxEntry{ReceivedAt: time.Now().UTC(), Headers: map[string]string{}, Body: body, Raw: string(body)}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Partnerops-") {
				e.Headers[k] = v[0]
			}
		}
		in.mu.Lock()
		list := append([]inboxEntry{e}, in.byTo[name]...)
		in.byTo[name] = list[:min(len(list), 50)]
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}`))
	case http.MethodGet:
		in.mu.Lock()
		list := append([]inboxEntry{}, in.byTo[name]...)
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	default:
		http.Error(w, "POST or GET", http.StatusMethodNotAllowed)
	}
}
