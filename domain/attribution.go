package domain

import (
	"time"

	"github.com/google/uuid"
)

// Attribution methods, in the order they are tried.
const (
	ByDeal       = "deal"        // a protected deal registration for the customer wins over cookies
	ByClickToken = "click_token" // the signed cookie's token
	ByClickID    = "click_id"    // a click ID the merchant kept
	ByCoupon     = "coupon"
	ByCustomer   = "customer_binding" // the customer's earlier conversion bound them to a partner
)

// Touch is a partner reached through one of the methods.
type Touch struct {
	PartnerID uuid.UUID
	LinkID    uuid.NullUUID
	ClickID   uuid.NullUUID
	At        time.Time // when the click happened (clicks only)
}

// AttributionInput is everything known about a conversion's origin. Nil means
// not given (or not found).
type AttributionInput struct {
	At           time.Time
	Window       time.Duration // the program's cookie window
	Deal         *Touch        // the partner whose deal protects this customer
	Token        *Touch        // from a verified click token
	TokenInvalid bool          // a token was sent but did not verify
	Click        *Touch        // from a click ID
	Coupon       *Touch
	Binding      *Touch
}

type Attribution struct {
	Touch
	Method string `json:"method"`
	Reason string `json:"reason,omitempty"` // why nobody was credited
}

func (a Attribution) Attributed() bool { return a.Method != "" }

// Attribute picks the partner credited with a conversion: a protected deal, then
// the click token, the click ID, the coupon code and the customer's binding.
// A click counts only inside the cookie window (and not after the conversion).
func Attribute(in AttributionInput) Attribution {
	reason := "nothing to attribute: no click, coupon or known customer"
	inWindow := func(t *Touch) bool {
		if in.At.Before(t.At.Add(-time.Minute)) || in.At.Sub(t.At) > in.Window {
			reason = "the click is outside the cookie window"
			return false
		}
		return true
	}
	if in.TokenInvalid {
		reason = "the click token was tampered with or is malformed"
	}
	switch {
	case in.Deal != nil:
		return Attribution{Touch: *in.Deal, Method: ByDeal}
	case in.Token != nil && inWindow(in.Token):
		return Attribution{Touch: *in.Token, Method: ByClickToken}
	case in.Click != nil && inWindow(in.Click):
		return Attribution{Touch: *in.Click, Method: ByClickID}
	case in.Coupon != nil:
		return Attribution{Touch: *in.Coupon, Method: ByCoupon}
	case in.Binding != nil:
		return Attribution{Touch: *in.Binding, Method: ByCustomer}
	}
	return Attribution{Reason: reason}
}

// KeepFirstClick tells the click handler whether an existing cookie stands: under
// first-click attribution, a valid cookie from the same program inside the window
// is not replaced by a newer click.
func KeepFirstClick(model string, existing *ClickToken, programID uuid.UUID, now time.Time, window time.Duration) bool {
	return model == "first_click" && existing != nil && existing.ProgramID == programID && now.Sub(existing.ClickedAt) <= window
}
