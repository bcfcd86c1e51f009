package domain

import "testing"

// One rounding, to the currency's minor unit, and columns that hold it as is.
func TestCheckProgramCurrency(t *testing.T) {
	for code, want := range map[string]string{"USD": "", "EUR": "", "JPY": "", "KRW": "", "BHD": "unsupported_currency", "KWD": "unsupported_currency",
		"TND": "unsupported_currency", "ABC": "unknown_currency", "US1": "unknown_currency"} {
		err := CheckProgramCurrency(code)
		got := ""
		if e, ok := AsError(err); ok {
			got = e.Code
		}
		if got != want {
			t.Errorf("%s: %v, want %q", code, err, want)
		}
	}
	for _, code := range []string{"USD", "JPY", "EUR"} { // amounts rounded once fit the columns unchanged
		if MinorUnits(code) > StoredDecimals {
			t.Errorf("%s has %d decimals", code, MinorUnits(code))
		}
	}
}
