package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

// Deal statuses.
const (
	DealPendingApproval = "pending_approval"
	DealRejected        = "rejected"
	DealApproved        = "approved"     // protected until protected_until
	DealWonReported     = "won_reported" // the partner reported it won; still protected until a manager confirms
	DealExpired         = "expired"
	DealWon             = "won"
	DealLost            = "lost"
)

// CustomerDomain normalises what a partner typed for the customer's website to its
// registrable domain, so "https://www.EMEA.Acme.co.uk/contact" and "acme.co.uk"
// are the same customer.
func CustomerDomain(s string) (string, bool) {
	host, ok := NormalizeDomain(s)
	if !ok {
		return "", false
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", false
	}
	return reg, true
}

// legalSuffixes are dropped from company names before comparing them.
var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "llp": true, "lp": true, "ltd": true, "limited": true,
	"corp": true, "corporation": true, "co": true, "company": true, "plc": true, "gmbh": true, "ag": true,
	"kg": true, "mbh": true, "sa": true, "sas": true, "sarl": true, "srl": true, "spa": true, "bv": true,
	"nv": true, "ab": true, "as": true, "asa": true, "oy": true, "oyj": true, "pty": true, "kk": true,
	"pte": true, "sl": true, "se": true, "holdings": true, "group": true,
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// NormalizeCompanyName reduces a company name to what identifies it: accents,
// case, punctuation and legal suffixes (Inc, LLC, GmbH, Ltd…) are dropped and
// "&" reads "and". "ACME, Inc." and "Acme Inc" both become "acme".
func NormalizeCompanyName(s string) string {
	s = strings.ToLower(norm.NFKD.String(s))
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) { // combining accents
			return -1
		}
		return r
	}, s)
	s = strings.ReplaceAll(s, "&", " and ")
	s = strings.ReplaceAll(s, ".", "") // "L.L.C." → "llc", "S.A." → "sa"
	words := strings.Fields(nonWord.ReplaceAllString(s, " "))
	// Strip trailing legal forms, and an "and" joining them ("GmbH & Co. KG").
	for stripped := false; len(words) > 1; {
		last := words[len(words)-1]
		if !legalSuffixes[last] && !(stripped && last == "and") {
			break
		}
		words, stripped = words[:len(words)-1], true
	}
	if len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	return strings.Join(words, " ")
}

// Similarity scores two normalised names from 0 (nothing shared) to 1 (equal),
// by the Dice coefficient of their letter pairs; spaces are ignored.
func Similarity(a, b string) float64 {
	a, b = strings.ReplaceAll(a, " ", ""), strings.ReplaceAll(b, " ", "")
	if a == b {
		return 1
	}
	if len(a) < 2 || len(b) < 2 {
		return 0
	}
	pairs := map[string]int{}
	for i := 0; i+1 < len(a); i++ {
		pairs[a[i:i+2]]++
	}
	shared := 0
	for i := 0; i+1 < len(b); i++ {
		if pairs[b[i:i+2]] > 0 {
			pairs[b[i:i+2]]--
			shared++
		}
	}
	return 2 * float64(shared) / float64(len(a)-1+len(b)-1)
}

// NearMatchThreshold is the similarity from which a name is flagged for the approver.
const NearMatchThreshold = 0.8

// Registration is what conflict matching compares: a deal or an existing customer.
type Registration struct {
	Kind      string `json:"kind"` // "deal" or "customer"
	ID        string `json:"id"`
	PartnerID string `json:"partner_id,omitempty"`
	Status    string `json:"status,omitempty"`
	Name      string `json:"name"` // normalised
	Domain    string `json:"domain"`
	Country   string `json:"country"`
}

// Match is an existing registration that resembles a new one.
type Match struct {
	Registration
	Exact bool    `json:"exact"`
	Score float64 `json:"score"`
	Why   string  `json:"why"`
}

// MatchRegistration compares a new registration with existing ones. A match is
// exact when the registrable domain is the same, or the normalised name and
// country are; it is near when the names are similar (or equal in another
// country). Exact matches come first.
func MatchRegistration(name, domain, country string, existing []Registration) []Match {
	var exact, near []Match
	for _, r := range existing {
		score := Similarity(name, r.Name)
		switch {
		case domain == r.Domain:
			exact = append(exact, Match{r, true, 1, "same domain " + domain})
		case name == r.Name && country == r.Country:
			exact = append(exact, Match{r, true, 1, "same company name in " + country})
		case score >= NearMatchThreshold:
			near = append(near, Match{r, false, roundScore(score), "similar company name"})
		}
	}
	return append(exact, near...)
}

func roundScore(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

// ConflictVerdict is what the conflict check decides for a new registration.
type ConflictVerdict struct {
	Reject bool    `json:"reject"`
	Reason string  `json:"reason,omitempty"`
	Flags  []Match `json:"flags"` // near (or open, same-partner) matches shown to the approver
}

// JudgeConflicts turns matches into a verdict: an exact match on another partner's
// protected deal, or on an existing customer, rejects at once ("already
// registered"); everything else is flagged for the approver.
func JudgeConflicts(partnerID string, matches []Match) ConflictVerdict {
	v := ConflictVerdict{Flags: []Match{}}
	for _, m := range matches {
		switch {
		case m.Exact && m.Kind == "customer":
			return ConflictVerdict{Reject: true, Reason: "existing customer: " + m.Why, Flags: []Match{m}}
		case m.Exact && m.Kind == "deal" && (m.Status == DealApproved || m.Status == DealWonReported) && m.PartnerID != partnerID:
			return ConflictVerdict{Reject: true, Reason: "already registered: another partner's protected deal (" + m.Why + ")", Flags: []Match{m}}
		default:
			v.Flags = append(v.Flags, m)
		}
	}
	return v
}

// DealMargin is the partner's margin line for a won deal: the negotiated margin,
// else the tier's default, times the final amount, rounded to the currency.
func DealMargin(finalAmount decimal.Decimal, negotiated *decimal.Decimal, tierDefault decimal.Decimal, currency string) decimal.Decimal {
	m := tierDefault
	if negotiated != nil {
		m = *negotiated
	}
	return RoundMoney(finalAmount.Mul(m), currency)
}

// ExpiryReminderLeads are how long before a protection expires the partner is reminded.
var ExpiryReminderLeads = []time.Duration{14 * 24 * time.Hour, 3 * 24 * time.Hour}

// Stage is one step of a program's sales pipeline, with its win probability.
type Stage struct {
	Name        string          `json:"name"`
	Probability decimal.Decimal `json:"probability"`
}

var countryRe = regexp.MustCompile(`^[A-Z]{2}$`)

// ValidCountry accepts an ISO 3166-1 alpha-2 code in upper case.
func ValidCountry(s string) bool { return countryRe.MatchString(s) }

// AutoConfirmWon reports whether a reported won amount is confirmed without a
// manager: the program allows it (pct not nil) and the amount is at most pct %
// over the estimate.
func AutoConfirmWon(reported, estimate decimal.Decimal, pct *decimal.Decimal) bool {
	if pct == nil {
		return false
	}
	limit := estimate.Mul(decimal.NewFromInt(100).Add(*pct)).Div(decimal.NewFromInt(100))
	return !reported.GreaterThan(limit)
}
