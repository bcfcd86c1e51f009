package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/domain"
)

// Balances derives a partner's MDF balances for a quarter from the ledger.
func (q *Queries) Balances(ctx context.Context, partnerID uuid.UUID, quarter string) (domain.Balances, error) {
	rows, err := q.AccountBalances(ctx, AccountBalancesParams{PartnerID: partnerID, Quarter: quarter})
	if err != nil {
		return nil, fmt.Errorf("balances of %s %s: %w", partnerID, quarter, err)
	}
	b := domain.Balances{}
	for _, r := range rows {
		b[domain.Account(r.Account)] = r.Balance.Decimal
	}
	return b, nil
}

// Posting is where an entry is recorded: whose funds, which quarter, why.
type Posting struct {
	Key       string // idempotency: an entry with this key is posted once
	PartnerID uuid.UUID
	Quarter   string
	RequestID uuid.NullUUID
	Currency  string
	Memo      string
	At        time.Time
}

// PostEntry writes a balanced entry; it reports false if the key was posted before.
// The database checks the balance again at commit.
func (q *Queries) PostEntry(ctx context.Context, p Posting, e domain.Entry) (bool, error) {
	if !e.Balanced() {
		return false, fmt.Errorf("entry %s does not balance", p.Key)
	}
	id, err := q.CreateLedgerEntry(ctx, CreateLedgerEntryParams{EntryKey: p.Key, Kind: e.Kind, PartnerID: p.PartnerID, Quarter: p.Quarter,
		MDFRequestID: p.RequestID, Memo: p.Memo, OccurredAt: p.At})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, ps := range e.Postings {
		if err := q.CreatePosting(ctx, CreatePostingParams{EntryID: id, Account: string(ps.Account), PartnerID: p.PartnerID, Quarter: p.Quarter,
			Amount: domain.NewNumeric(ps.Amount), Currency: p.Currency}); err != nil {
			return false, err
		}
	}
	return true, nil
}
