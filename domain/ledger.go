package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// MDF funds as a double-entry ledger. Every movement is an entry whose postings
// sum to zero; a partner's balances per quarter are derived from the postings.
type Account string

const (
	AccBudget       Account = "mdf_budget"       // the vendor's side of every allocation (goes negative)
	AccAvailable    Account = "mdf_available"    // allocated, free to request
	AccReserved     Account = "mdf_reserved"     // held by requests waiting for pre-approval
	AccApproved     Account = "mdf_approved"     // pre-approved, not yet claimed
	AccClaimed      Account = "mdf_claimed"      // claimed with proof, waiting for review
	AccReimbursable Account = "mdf_reimbursable" // claim approved: owed to the partner, paid by the close
	AccReimbursed   Account = "mdf_reimbursed"   // paid out
	AccExpired      Account = "mdf_expired"      // unused at quarter end (plus grace)
)

// Posting moves Amount into Account (negative: out of it).
type Posting struct {
	Account Account         `json:"account"`
	Amount  decimal.Decimal `json:"amount"`
}

// Entry is one balanced movement of funds.
type Entry struct {
	Kind     string    `json:"kind"` // allocate, reserve, pre_approve, release, claim, approve_claim, expire, reimburse
	Postings []Posting `json:"postings"`
}

// Balanced reports whether the postings sum to zero.
func (e Entry) Balanced() bool {
	sum := decimal.Zero
	for _, p := range e.Postings {
		sum = sum.Add(p.Amount)
	}
	return sum.IsZero() && len(e.Postings) >= 2
}

// Balances is the sum of postings per account.
type Balances map[Account]decimal.Decimal

func (b Balances) Apply(e Entry) {
	for _, p := range e.Postings {
		b[p.Account] = b[p.Account].Add(p.Amount)
	}
}

// ErrInsufficientFunds is returned when a movement would take more than an account holds.
type ErrInsufficientFunds struct {
	Account   Account
	Available decimal.Decimal
}

func (e *ErrInsufficientFunds) Error() string {
	return fmt.Sprintf("%s holds only %s", e.Account, e.Available.StringFixed(2))
}

// entry builds a balanced entry moving each amount from → to, skipping zeros.
func entry(kind string, moves ...move) Entry {
	e := Entry{Kind: kind}
	for _, m := range moves {
		if m.amount.IsZero() {
			continue
		}
		e.Postings = append(e.Postings, Posting{m.from, m.amount.Neg()}, Posting{m.to, m.amount})
	}
	return e
}

type move struct {
	from, to Account
	amount   decimal.Decimal
}

// take checks that account holds at least amount.
func take(b Balances, acc Account, amount decimal.Decimal) error {
	if !amount.IsPositive() {
		return fmt.Errorf("amount must be positive, got %s", amount)
	}
	if b[acc].LessThan(amount) {
		return &ErrInsufficientFunds{Account: acc, Available: b[acc]}
	}
	return nil
}

// freeAccount is where released funds go: back to available, or to expired once
// the quarter's funds have expired.
func freeAccount(quarterExpired bool) Account {
	if quarterExpired {
		return AccExpired
	}
	return AccAvailable
}

func Allocate(amount decimal.Decimal) (Entry, error) {
	if !amount.IsPositive() {
		return Entry{}, fmt.Errorf("an allocation must be positive")
	}
	return entry("allocate", move{AccBudget, AccAvailable, amount}), nil
}

// Reserve holds a request's amount; never more than is available.
func Reserve(b Balances, amount decimal.Decimal) (Entry, error) {
	if err := take(b, AccAvailable, amount); err != nil {
		return Entry{}, err
	}
	return entry("reserve", move{AccAvailable, AccReserved, amount}), nil
}

// PreApprove turns a reservation into an approval of approved ≤ requested and
// releases the difference.
func PreApprove(b Balances, requested, approved decimal.Decimal, quarterExpired bool) (Entry, error) {
	if err := take(b, AccReserved, requested); err != nil {
		return Entry{}, err
	}
	if !approved.IsPositive() || approved.GreaterThan(requested) {
		return Entry{}, fmt.Errorf("approved must be positive and at most the requested %s", requested)
	}
	return entry("pre_approve", move{AccReserved, AccApproved, approved}, move{AccReserved, freeAccount(quarterExpired), requested.Sub(approved)}), nil
}

// Release frees amount held in from (a rejection, withdrawal or missed deadline).
func Release(b Balances, from Account, amount decimal.Decimal, quarterExpired bool) (Entry, error) {
	if err := take(b, from, amount); err != nil {
		return Entry{}, err
	}
	return entry("release", move{from, freeAccount(quarterExpired), amount}), nil
}

// Claim moves the claimed amount (at most what is approved) to claimed.
func Claim(b Balances, amount decimal.Decimal) (Entry, error) {
	if err := take(b, AccApproved, amount); err != nil {
		return Entry{}, err
	}
	return entry("claim", move{AccApproved, AccClaimed, amount}), nil
}

// Unclaim returns a claim to approved, for a resubmission after more proof was asked.
func Unclaim(b Balances, amount decimal.Decimal) (Entry, error) {
	if err := take(b, AccClaimed, amount); err != nil {
		return Entry{}, err
	}
	return entry("unclaim", move{AccClaimed, AccApproved, amount}), nil
}

// ApproveClaim makes accepted (≤ claimed) reimbursable and frees the rest of the
// claim and whatever of the approval was not claimed.
func ApproveClaim(b Balances, claimed, accepted, unclaimed decimal.Decimal, quarterExpired bool) (Entry, error) {
	if err := take(b, AccClaimed, claimed); err != nil {
		return Entry{}, err
	}
	if unclaimed.IsPositive() {
		if err := take(b, AccApproved, unclaimed); err != nil {
			return Entry{}, err
		}
	}
	if !accepted.IsPositive() || accepted.GreaterThan(claimed) {
		return Entry{}, fmt.Errorf("accepted must be positive and at most the claimed %s", claimed)
	}
	free := freeAccount(quarterExpired)
	return entry("approve_claim", move{AccClaimed, AccReimbursable, accepted}, move{AccClaimed, free, claimed.Sub(accepted)}, move{AccApproved, free, unclaimed}), nil
}

// Expire moves what is still available at quarter end (plus grace) to expired.
func Expire(b Balances) (Entry, bool) {
	if !b[AccAvailable].IsPositive() {
		return Entry{}, false
	}
	return entry("expire", move{AccAvailable, AccExpired, b[AccAvailable]}), true
}

// Reimburse records that the close paid a reimbursable amount.
func Reimburse(b Balances, amount decimal.Decimal) (Entry, error) {
	if err := take(b, AccReimbursable, amount); err != nil {
		return Entry{}, err
	}
	return entry("reimburse", move{AccReimbursable, AccReimbursed, amount}), nil
}

// MDFBalance is what a partner sees of one quarter.
type MDFBalance struct {
	Allocated    Numeric `json:"allocated"`
	Available    Numeric `json:"available"`
	Reserved     Numeric `json:"reserved"`
	Approved     Numeric `json:"approved"`
	Claimed      Numeric `json:"claimed"`
	Reimbursable Numeric `json:"reimbursable"`
	Reimbursed   Numeric `json:"reimbursed"`
	Expired      Numeric `json:"expired"`
}

// MDF derives the partner's view, each amount to the currency's minor unit.
func (b Balances) MDF(currency string) MDFBalance {
	n := func(d decimal.Decimal) Numeric { return NewNumeric(RoundMoney(d, currency)) }
	return MDFBalance{Allocated: n(b[AccBudget].Neg()), Available: n(b[AccAvailable]), Reserved: n(b[AccReserved]), Approved: n(b[AccApproved]),
		Claimed: n(b[AccClaimed]), Reimbursable: n(b[AccReimbursable]), Reimbursed: n(b[AccReimbursed]), Expired: n(b[AccExpired])}
}

// Quarter names a calendar quarter, e.g. "2026-Q4".
func Quarter(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

// QuarterBounds parses "2026-Q4" into [start, end).
func QuarterBounds(q string) (time.Time, time.Time, bool) {
	var year, n int
	if _, err := fmt.Sscanf(q, "%d-Q%d", &year, &n); err != nil || n < 1 || n > 4 || year < 2000 || year > 2999 || !strings.HasSuffix(q, fmt.Sprintf("Q%d", n)) || len(q) != 7 {
		return time.Time{}, time.Time{}, false
	}
	start := time.Date(year, time.Month((n-1)*3+1), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 3, 0), true
}
