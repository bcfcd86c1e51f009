package domain

import (
	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
)

// StoredDecimals is the scale of every money column (numeric(14, 2)).
const StoredDecimals = 2

// minorUnits lists currencies whose minor unit is not the usual cent (ISO 4217).
var minorUnits = map[string]int32{
	"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "UGX": 0, "XAF": 0, "XOF": 0, "PYG": 0,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3,
}

// MinorUnits is how many decimals an amount in the currency has.
func MinorUnits(currency string) int32 {
	if n, ok := minorUnits[currency]; ok {
		return n
	}
	return 2
}

// RoundMoney rounds to the currency's minor unit, half to even (banker's
// rounding), as every money line is rounded.
func RoundMoney(amount decimal.Decimal, currency string) decimal.Decimal {
	return amount.RoundBank(MinorUnits(currency))
}

// ValidAmount reports whether amount is positive and has no more decimals than
// the currency allows.
func ValidAmount(amount decimal.Decimal, currency string) bool {
	return amount.IsPositive() && amount.Equal(amount.Truncate(MinorUnits(currency)))
}

// CheckProgramCurrency refuses a program currency that is not an ISO 4217 code,
// or whose minor unit the money columns cannot hold: amounts are rounded once,
// to the currency's minor unit, and must then be stored as they are (JPY's 0 and
// USD's 2 decimals fit; BHD's 3 would be rounded a second time by the column).
func CheckProgramCurrency(code string) error {
	if _, err := currency.ParseISO(code); err != nil || len(code) != 3 {
		return Invalid("currency", "unknown_currency", "%q is not an ISO 4217 currency code such as EUR, USD or JPY", code)
	}
	if n := MinorUnits(code); n > StoredDecimals {
		return Invalid("currency", "unsupported_currency", "%s amounts have %d decimals; partnerops stores money with at most %d, so programs in %s are not supported", code, n, StoredDecimals, code)
	}
	return nil
}
