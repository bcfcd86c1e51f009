package domain

import (
	"math/big"
	"regexp"
	"strings"
)

// Payout methods a partner can be paid by.
const (
	PayoutBank     = "bank"     // IBAN and BIC (SEPA and most of the world outside the US)
	PayoutPayPal   = "paypal"   // a PayPal account's e-mail
	PayoutProvider = "provider" // an account at the payments provider (acct_...)
)

// NormalizeIBAN strips spaces and upper-cases; ValidIBAN checks the country
// length and the ISO 13616 mod-97 checksum.
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

var ibanShape = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)

func ValidIBAN(iban string) bool {
	if !ibanShape.MatchString(iban) {
		return false
	}
	rearranged := iban[4:] + iban[:4]
	var digits strings.Builder
	for _, r := range rearranged {
		if r >= 'A' && r <= 'Z' {
			digits.WriteString(big.NewInt(int64(r - 'A' + 10)).String())
		} else {
			digits.WriteRune(r)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

var bicShape = regexp.MustCompile(`^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)

// ValidBIC checks a SWIFT/BIC code's shape (8 or 11 characters).
func ValidBIC(bic string) bool { return bicShape.MatchString(bic) }

var providerAccount = regexp.MustCompile(`^acct_[A-Za-z0-9]{6,64}$`)

// ValidProviderAccount checks a payments provider account id (acct_...).
func ValidProviderAccount(s string) bool { return providerAccount.MatchString(s) }

// MaskDestination shows only the last four characters of where money goes.
func MaskDestination(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("•", len(s))
	}
	return strings.Repeat("•", len(s)-4) + s[len(s)-4:]
}
