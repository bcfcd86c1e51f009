package domain

import (
	"github.com/shopspring/decimal"
)

// Numeric is a value of a numeric column: a shopspring decimal that keeps its
// scale in JSON, so an amount stored as 9360.00 reads "9360.00", not "9360".
// Scanning and arithmetic are the embedded decimal's.
type Numeric struct{ decimal.Decimal }

func NewNumeric(d decimal.Decimal) Numeric { return Numeric{d} }

func (n Numeric) MarshalJSON() ([]byte, error) { return []byte(`"` + n.String() + `"`), nil }

// String keeps trailing zeros down to the value's scale. PostgreSQL's binary
// numeric carries no scale for zero, so zero reads "0.00" like other amounts.
func (n Numeric) String() string {
	if e := n.Exponent(); e < 0 {
		return n.StringFixed(-e)
	}
	if n.IsZero() {
		return "0.00"
	}
	return n.Decimal.String()
}

// NullNumeric is a nullable numeric column; null in JSON when not Valid.
type NullNumeric struct{ decimal.NullDecimal }

func NewNullNumeric(d *decimal.Decimal) NullNumeric {
	if d == nil {
		return NullNumeric{}
	}
	return NullNumeric{decimal.NullDecimal{Decimal: *d, Valid: true}}
}

func (n NullNumeric) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return []byte("null"), nil
	}
	return Numeric{n.Decimal}.MarshalJSON()
}

// Ptr is the value, or nil when null.
func (n NullNumeric) Ptr() *decimal.Decimal {
	if !n.Valid {
		return nil
	}
	d := n.Decimal
	return &d
}
