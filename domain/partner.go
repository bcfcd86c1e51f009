package domain

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Partner types. Affiliates and creators are self-serve; the rest are channel partners.
var PartnerTypes = []string{"affiliate", "creator", "reseller", "var", "msp", "si", "isv", "referral"}

func ValidPartnerType(t string) bool { return slices.Contains(PartnerTypes, t) }

// Partner statuses, in the order onboarding moves through them.
const (
	StatusPendingReview         = "pending_review"
	StatusRejected              = "rejected"
	StatusAwaitingAgreement     = "awaiting_agreement"
	StatusAwaitingCertification = "awaiting_certification"
	StatusActive                = "active"
	StatusLapsed                = "lapsed"
)

// DefaultCertification is what a reseller, VAR, MSP or SI needs when the program
// names nothing for its type: these partner types always need at least one.
const DefaultCertification = "sales-fundamentals"

// needsCertification lists the partner types that must hold at least one certification.
var needsCertification = []string{"reseller", "var", "msp", "si"}

// RequiredCertifications is the set a partner must hold to be active: the program's
// list for its partner type (or the default for types that need one) plus its
// tier's. Affiliates and creators need none, whatever the tier says.
func RequiredCertifications(partnerType string, program map[string][]string, tier []string) []string {
	if partnerType == "affiliate" || partnerType == "creator" {
		return []string{}
	}
	set := append([]string{}, program[partnerType]...)
	if len(set) == 0 && slices.Contains(needsCertification, partnerType) {
		set = append(set, DefaultCertification)
	}
	set = append(set, tier...)
	slices.Sort(set)
	return slices.Compact(set)
}

// Certification is one passed certification, valid until ExpiresAt (exclusive).
type Certification struct {
	Name      string    `json:"name"`
	PassedAt  time.Time `json:"passed_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CertificationStanding says where a partner stands against its required set at now.
type CertificationStanding struct {
	Missing    []string  // required names with no certification valid at now
	NextExpiry time.Time // when the first currently valid required certification expires; zero if none
}

func (s CertificationStanding) Complete() bool { return len(s.Missing) == 0 }

// latestExpiry is when the latest-expiring certification of that name, passed by
// now, expires (zero: none held).
func latestExpiry(name string, held []Certification, now time.Time) time.Time {
	var best time.Time
	for _, c := range held {
		if c.Name == name && !c.PassedAt.After(now) && c.ExpiresAt.After(best) {
			best = c.ExpiresAt
		}
	}
	return best
}

// Standing compares held certifications with the required set at the given time.
// For each required name the latest-expiring certification counts.
func Standing(required []string, held []Certification, now time.Time) CertificationStanding {
	st := CertificationStanding{Missing: []string{}}
	for _, name := range required {
		best := latestExpiry(name, held, now)
		if !best.After(now) {
			st.Missing = append(st.Missing, name)
			continue
		}
		if st.NextExpiry.IsZero() || best.Before(st.NextExpiry) {
			st.NextExpiry = best
		}
	}
	return st
}

var domainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// NormalizeDomain turns what people type for a website ("https://www.Acme.com/about")
// into a bare host name ("acme.com"), or reports that it is not one.
func NormalizeDomain(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 { // a port
		s = s[:i]
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "www."), ".")
	if len(s) > 253 || !domainRe.MatchString(s) {
		return "", false
	}
	return s, true
}

// ValidEmail accepts a bare address (no display name), as people type it into a form.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && len(s) <= 254
}

var certNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidCertificationName keeps certification names short, lower-case slugs.
func ValidCertificationName(s string) bool { return certNameRe.MatchString(s) }

// CertificationWarningDays: a holder is warned this many days before a required
// certification expires.
var CertificationWarningDays = []int{30, 7}

// CertificationWarning is one warning due: the certification, when it expires,
// and how many days before that the warning is.
type CertificationWarning struct {
	Name       string
	ExpiresAt  time.Time
	DaysBefore int
}

// Key names the warning once (the same certification renewed warns again).
func (w CertificationWarning) Key() string {
	return fmt.Sprintf("certification_expiring/%s/%s/%dd", w.Name, w.ExpiresAt.UTC().Format(time.DateOnly), w.DaysBefore)
}

// CertificationWarnings answers, for each required certification's
// latest-expiring holding, the most urgent warning already due at now (if it has
// not expired), and when the next warning falls due (zero: none).
func CertificationWarnings(required []string, held []Certification, now time.Time) (due []CertificationWarning, next time.Time) {
	for _, name := range required {
		best := latestExpiry(name, held, now)
		if !best.After(now) {
			continue
		}
		var urgent *CertificationWarning
		for _, days := range CertificationWarningDays {
			at := best.AddDate(0, 0, -days)
			if !at.After(now) {
				if urgent == nil || days < urgent.DaysBefore {
					urgent = &CertificationWarning{Name: name, ExpiresAt: best, DaysBefore: days}
				}
			} else if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		if urgent != nil {
			due = append(due, *urgent)
		}
	}
	return due, next
}
