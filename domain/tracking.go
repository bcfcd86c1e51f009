package domain

import (
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/net/publicsuffix"
)

// DefaultClickIDParam is the query parameter the click redirect appends the
// click id under, unless the program names another.
const DefaultClickIDParam = "po_click_id"

var (
	clickParamRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)
	hostRe       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
)

// ValidClickIDParam: a letter, then letters, digits or underscores, at most 32.
func ValidClickIDParam(s string) bool { return clickParamRe.MatchString(s) }

// ShortClickID is the click id handed to the merchant: the click's UUID in
// base64url, 22 characters, safe in a query string and a cookie.
func ShortClickID(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

var ErrBadClickID = errors.New("a click id is a UUID or the 22-character id the click redirect appended")

// ParseClickID accepts the short form and the UUID form.
func ParseClickID(s string) (uuid.UUID, error) {
	switch len(s) {
	case 22:
		var id uuid.UUID
		if n, err := base64.RawURLEncoding.Decode(id[:], []byte(s)); err != nil || n != 16 {
			return uuid.Nil, ErrBadClickID
		}
		return id, nil
	case 36:
		id, err := uuid.Parse(s)
		if err != nil {
			return uuid.Nil, ErrBadClickID
		}
		return id, nil
	}
	return uuid.Nil, ErrBadClickID
}

// TrackingDomain checks a program's custom tracking host (go.merchant.example,
// CNAMEd to partnerops) and answers the registrable domain its click cookie is
// set for (merchant.example), so the cookie is first-party on the merchant's
// site. A public suffix itself (co.uk, github.io) cannot be a tracking domain.
func TrackingDomain(host string) (normalized, cookieDomain string, ok bool) {
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if len(host) > 253 || !hostRe.MatchString(host) || net.ParseIP(host) != nil {
		return "", "", false
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", "", false
	}
	return host, reg, true
}
