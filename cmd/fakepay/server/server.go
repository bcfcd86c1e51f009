// Package server is a small fake payments API for tests and demos. It enforces
// idempotency keys the way Stripe documents them — the same key and body give the
// same answer, the same key with another body is an error — can be told to fail,
// time out or answer late, sends signed confirmation callbacks (optionally twice),
// and keeps a record of every transfer.
package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transfer is one money movement the fake provider made.
type Transfer struct {
	ID          string    `json:"id"`
	Amount      string    `json:"amount"`
	Currency    string    `json:"currency"`
	Destination string    `json:"destination"`
	Reference   string    `json:"reference"`
	Status      string    `json:"status"` // pending, paid, failed
	Key         string    `json:"idempotency_key"`
	CreatedAt   time.Time `json:"created_at"`
}

// Mode tells the server how to behave from now on.
type Mode struct {
	Fail               bool          `json:"fail"`                // answer 402 "declined" (recorded, like any answer)
	Delay              time.Duration `json:"delay"`               // record the transfer, then wait this long before answering (a timeout)
	DelayOnce          bool          `json:"delay_once"`          // only the first request waits
	CallbackDelay      time.Duration `json:"callback_delay"`      // when to send the confirmation
	DuplicateCallbacks bool          `json:"duplicate_callbacks"` // send the confirmation twice
}

type stored struct {
	hash   string
	status int
	body   []byte
}

type Server struct {
	mu          sync.Mutex
	mode        Mode
	transfers   []*Transfer
	keys        map[string]stored
	CallbackURL string // where confirmations go (POST, signed); empty: none
	Secret      []byte // signs callbacks: X-Partnerops-Signature t=..,v1=..
	delayed     bool
}

func New() *Server { return &Server{keys: map[string]stored{}} }

func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.mode, s.delayed = m, false
	s.mu.Unlock()
}

// Transfers returns a copy of every transfer made.
func (s *Server) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transfer, len(s.transfers))
	for i, t := range s.transfers {
		out[i] = *t
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/transfers":
		s.create(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/transfers/"):
		s.get(w, strings.TrimPrefix(r.URL.Path, "/v1/transfers/"))
	case r.Method == http.MethodPost && r.URL.Path == "/_control":
		var m Mode
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetMode(m)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/_transfers":
		writeJSON(w, http.StatusOK, s.Transfers())
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if key == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Idempotency-Key is required"})
		return
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	s.mu.Lock()
	if prev, ok := s.keys[key]; ok {
		s.mu.Unlock()
		if prev.hash != hash {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Keys for idempotent requests can only be used with the same parameters they were first used with"})
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(prev.status)
		w.Write(prev.body)
		return
	}
	var in struct {
		Amount, Currency, Destination, Reference string
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Amount == "" || in.Currency == "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "amount and currency are required"})
		return
	}
	mode := s.mode
	t := &Transfer{ID: "tr_" + strconv.Itoa(len(s.transfers)+1), Amount: in.Amount, Currency: in.Currency, Destination: in.Destination,
		Reference: in.Reference, Status: "pending", Key: key, CreatedAt: time.Now()}
	status := http.StatusOK
	if mode.Fail {
		t.Status, status = "failed", http.StatusPaymentRequired
	}
	s.transfers = append(s.transfers, t)
	resp, _ := json.Marshal(t)
	s.keys[key] = stored{hash: hash, status: status, body: resp}
	wait := mode.Delay > 0 && !(mode.DelayOnce && s.delayed)
	if wait {
		s.delayed = true
	}
	s.mu.Unlock()

	if !mode.Fail && s.CallbackURL != "" {
		go s.confirm(t.ID, mode)
	}
	if wait { // the transfer exists; the caller just does not hear about it in time
		time.Sleep(mode.Delay)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(resp)
}

// confirm marks the transfer paid and tells the callback URL, once or twice.
func (s *Server) confirm(id string, mode Mode) {
	time.Sleep(mode.CallbackDelay)
	s.mu.Lock()
	var t Transfer
	for _, x := range s.transfers {
		if x.ID == id {
			x.Status = "paid"
			t = *x
		}
	}
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"transfer_id": t.ID, "reference": t.Reference, "status": "paid"})
	times := 1
	if mode.DuplicateCallbacks {
		times = 2
	}
	for range times {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, s.Secret)
		mac.Write([]byte(ts + "." + string(body)))
		req, _ := http.NewRequest(http.MethodPost, s.CallbackURL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Partnerops-Signature", fmt.Sprintf("t=%s,v1=%s", ts, hex.EncodeToString(mac.Sum(nil))))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func (s *Server) get(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.transfers {
		if t.ID == id {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such transfer"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
