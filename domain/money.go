package domain

import "github.com/shopspring/decimal"

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
