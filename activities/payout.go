package activities

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

func nowUTC() time.Time { return time.Now().UTC() }

// Payments configures the payout providers.
type Payments struct {
	FileDir string       // file: where payout batch files are written
	URL     string       // http: the payments API
	APIKey  string       // http: its key
	Client  *http.Client // http: with a timeout shorter than the activity's
}

// ProviderResult is what a provider said of a payout.
type ProviderResult struct {
	Status string `json:"status"` // submitted (waiting for confirmation), paid, failed
	Ref    string `json:"ref"`    // the provider's transfer ID, or the batch file
	Reason string `json:"reason,omitempty"`
}

// PayoutPrepared says whether a payout may be sent, and which version of the
// partner's payout details it pays.
type PayoutPrepared struct {
	Held        bool   `json:"held"`
	Reason      string `json:"reason,omitempty"`
	Version     int32  `json:"version"`
	Destination string `json:"destination,omitempty"` // masked, for the history
}

// PreparePayout pins the payout to the partner's latest payout details when
// finance has confirmed them, or holds it (status held, with the reason) while
// they wait for confirmation. Run before the ledger entry, on every attempt.
func (a *Activities) PreparePayout(ctx context.Context, payoutID uuid.UUID) (PayoutPrepared, error) {
	p, err := a.Store.PreparePayout(ctx, payoutID)
	if errors.Is(err, pgx.ErrNoRows) {
		return PayoutPrepared{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("payout %s cannot be prepared: it was sent already, or its partner has no payout details", payoutID), "invalid", nil)
	}
	if err != nil {
		return PayoutPrepared{}, err
	}
	if p.Status == domain.PayoutHeld {
		d, err := a.Store.LatestPayoutDetails(ctx, p.PartnerID)
		return PayoutPrepared{Held: true, Reason: deref(p.HeldReason), Version: d.Version}, err
	}
	d, err := a.Store.PayoutDestination(ctx, p.ID)
	return PayoutPrepared{Version: d.Version, Destination: d.Method + " " + domain.MaskDestination(d.Destination)}, err
}

// PostPayoutEntry writes the payout's balanced ledger entry — commission payable →
// cash — before any provider is called, and marks the payout submitted.
func (a *Activities) PostPayoutEntry(ctx context.Context, payoutID uuid.UUID, attempt int) error {
	return a.Store.InTx(ctx, func(q *db.Queries) error {
		p, c, err := payoutAndClose(ctx, q, payoutID)
		if err != nil {
			return err
		}
		e := domain.Entry{Kind: "payout", Postings: []domain.Posting{
			{Account: "commission_payable", Amount: p.Amount.Decimal}, {Account: "cash", Amount: p.Amount.Neg()}}}
		posted, err := q.PostEntry(ctx, db.Posting{Key: fmt.Sprintf("payout/%s/%d", p.ID, attempt), PartnerID: p.PartnerID,
			Quarter: c.Month.Format("2006-01"), Currency: p.Currency, Memo: "payout " + p.ID.String(), At: nowUTC()}, e)
		if err != nil {
			return err
		}
		inc := int32(0)
		if posted {
			inc = 1
		}
		return q.SetPayoutStatus(ctx, db.SetPayoutStatusParams{ID: p.ID, Status: domain.PayoutSubmitted, Attempt: inc})
	})
}

func payoutAndClose(ctx context.Context, q *db.Queries, payoutID uuid.UUID) (db.Payout, db.Close, error) {
	p, err := q.GetPayout(ctx, payoutID)
	if err != nil {
		return p, db.Close{}, err
	}
	c, err := q.GetClose(ctx, p.CloseID)
	return p, c, err
}

// SendPayout hands the payout to its provider. The HTTP provider's Idempotency-Key
// is the payout ID and attempt, so a retried activity (a crash or a timeout after
// the provider acted) cannot pay twice.
func (a *Activities) SendPayout(ctx context.Context, payoutID uuid.UUID, attempt int) (ProviderResult, error) {
	p, c, err := payoutAndClose(ctx, a.Store.Queries, payoutID)
	if err != nil {
		return ProviderResult{}, err
	}
	r, err := a.send(ctx, p, c, attempt)
	if err == nil && r.Ref != "" { // where finance finds it: the transfer or the batch file
		err = a.Store.SetPayoutStatus(ctx, db.SetPayoutStatusParams{ID: p.ID, Status: domain.PayoutSubmitted, ProviderRef: &r.Ref})
	}
	return r, err
}

// payoutDestination is the version of payout details the payout was pinned to,
// never the partner's latest; a payout without a confirmed one is never sent.
func (a *Activities) payoutDestination(ctx context.Context, payoutID uuid.UUID) (db.PayoutDestinationRow, error) {
	d, err := a.Store.PayoutDestination(ctx, payoutID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && d.ConfirmedAt == nil) {
		return d, temporal.NewNonRetryableApplicationError(fmt.Sprintf("payout %s names no confirmed payout details: not sent", payoutID), "invalid", nil)
	}
	return d, err
}

func (a *Activities) send(ctx context.Context, p db.Payout, c db.Close, attempt int) (ProviderResult, error) {
	switch p.Provider {
	case "file":
		return a.writeBatchFile(ctx, c)
	case "http":
		d, err := a.payoutDestination(ctx, p.ID)
		if err != nil {
			return ProviderResult{}, err
		}
		body, _ := json.Marshal(map[string]string{"amount": p.Amount.String(), "currency": p.Currency, "destination": d.Destination,
			"reference": p.ID.String()})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Payments.URL+"/v1/transfers", bytes.NewReader(body))
		if err != nil {
			return ProviderResult{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.Payments.APIKey)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", p.ID, attempt))
		return a.callProvider(req)
	}
	return ProviderResult{}, temporal.NewNonRetryableApplicationError("unknown payout provider "+p.Provider, "invalid", nil)
}

// CheckPayout polls the HTTP provider for a transfer's status.
func (a *Activities) CheckPayout(ctx context.Context, ref string) (ProviderResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Payments.URL+"/v1/transfers/"+ref, nil)
	if err != nil {
		return ProviderResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Payments.APIKey)
	return a.callProvider(req)
}

func (a *Activities) callProvider(req *http.Request) (ProviderResult, error) {
	client := a.Payments.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// otelhttp: a client span per call, and the trace context in its headers.
	traced := *client
	traced.Transport = otelhttp.NewTransport(client.Transport)
	client = &traced
	resp, err := client.Do(req)
	if err != nil {
		return ProviderResult{}, fmt.Errorf("payments API: %w", err) // retried: the key makes it safe
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var t struct {
		ID, Status, Error string
	}
	_ = json.Unmarshal(raw, &t)
	switch {
	case resp.StatusCode == http.StatusPaymentRequired || t.Status == "failed": // the provider's word
		return ProviderResult{Status: domain.PayoutFailed, Ref: t.ID, Reason: "the provider declined the transfer"}, nil
	case resp.StatusCode >= 500:
		return ProviderResult{}, fmt.Errorf("payments API answered %d", resp.StatusCode)
	case resp.StatusCode >= 400:
		return ProviderResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("payments API refused: %d %s", resp.StatusCode, t.Error), "provider", nil)
	case t.Status == "paid": // the provider's word
		return ProviderResult{Status: domain.PayoutPaid, Ref: t.ID}, nil
	}
	return ProviderResult{Status: domain.PayoutSubmitted, Ref: t.ID}, nil
}

// writeBatchFile writes the close's payout batch as CSV for a bank portal; it is
// rewritten whole each time, so writing it again is harmless.
func (a *Activities) writeBatchFile(ctx context.Context, c db.Close) (ProviderResult, error) {
	// Only payouts pinned to confirmed details (a held one joins once confirmed).
	payouts, err := a.Store.PayoutBatch(ctx, c.ID)
	if err != nil {
		return ProviderResult{}, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"payout_id", "partner_id", "company", "email", "amount", "currency", "method", "holder", "destination"})
	for _, p := range payouts {
		_ = w.Write([]string{p.ID.String(), p.PartnerID.String(), domain.CSVText(p.Company), domain.CSVText(p.Email), p.Amount.String(), p.Currency,
			p.Method, domain.CSVText(p.Holder), domain.CSVText(p.Destination)})
	}
	w.Flush()
	path := filepath.Join(a.Payments.FileDir, "payouts", "close-"+c.ID.String()+".csv")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return ProviderResult{}, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o640); err != nil {
		return ProviderResult{}, err
	}
	return ProviderResult{Status: domain.PayoutSubmitted, Ref: path}, os.Rename(tmp, path)
}

// SettlePayout records the outcome: paid marks the partner's lines of the close
// paid; failed reverses the ledger entry so the money is owed again.
func (a *Activities) SettlePayout(ctx context.Context, payoutID uuid.UUID, attempt int, r ProviderResult) error {
	return a.inTxWithEvents(ctx, func(q *db.Queries, ev *events) (err error) {
		p, c, err := payoutAndClose(ctx, q, payoutID)
		if err != nil {
			return err
		}
		now := nowUTC()
		defer func() { // the event carries the payout as settled; its id is the settlement's
			if err != nil {
				return
			}
			settled, gerr := q.GetPayout(ctx, p.ID)
			if gerr != nil {
				err = gerr
				return
			}
			err = ev.publish(ctx, q, Event{ID: eventID("payout", p.ID.String(), strconv.Itoa(attempt), r.Status), Type: "payout." + r.Status,
				ProgramID: c.ProgramID, PartnerID: uuid.NullUUID{UUID: p.PartnerID, Valid: true}, Data: settled, At: now})
		}()
		if r.Status == domain.PayoutPaid {
			if err := q.SetPayoutStatus(ctx, db.SetPayoutStatusParams{ID: p.ID, Status: domain.PayoutPaid, ProviderRef: &r.Ref, PaidAt: &now}); err != nil {
				return err
			}
			paid, err := q.MarkLinesPaid(ctx, db.MarkLinesPaidParams{CloseID: uuid.NullUUID{UUID: c.ID, Valid: true}, PartnerID: p.PartnerID})
			if err != nil {
				return err
			}
			// MDF reimbursements paid here move reimbursable → reimbursed, and their
			// requests reach their final state.
			for _, l := range paid {
				if l.Kind == "mdf_reimbursement" && l.SourceType == "mdf_request" {
					if err := ReimburseMDF(ctx, q, l.SourceID, l.Amount.Decimal, p.ID, now); err != nil {
						return err
					}
				}
			}
			return nil
		}
		e := domain.Entry{Kind: "payout_reversal", Postings: []domain.Posting{
			{Account: "cash", Amount: p.Amount.Decimal}, {Account: "commission_payable", Amount: p.Amount.Neg()}}}
		if _, err := q.PostEntry(ctx, db.Posting{Key: fmt.Sprintf("payout/%s/%d/reversal", p.ID, attempt), PartnerID: p.PartnerID,
			Quarter: c.Month.Format("2006-01"), Currency: p.Currency, Memo: "payout failed: " + r.Reason, At: now}, e); err != nil {
			return err
		}
		reason := r.Reason
		if reason == "" {
			reason = "failed"
		}
		var ref *string
		if r.Ref != "" {
			ref = &r.Ref
		}
		return q.SetPayoutStatus(ctx, db.SetPayoutStatusParams{ID: p.ID, Status: domain.PayoutFailed, ProviderRef: ref, LastError: &reason})
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
