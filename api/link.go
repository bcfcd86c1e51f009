package api

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

type LinkRequest struct {
	Destination string `json:"destination" validate:"required,max=2000"`
	SubID       string `json:"sub_id" validate:"max=100"`
}

type CouponRequest struct {
	PartnerID string `json:"partner_id" validate:"required,uuid"`
	Code      string `json:"code" validate:"max=20"`
}

// LinkView adds the tracking URL to a link.
type LinkView struct {
	db.Link
	URL string `json:"url"`
}

var subIDRe = regexp.MustCompile(`^[A-Za-z0-9._~-]*$`)

func (s *Server) createLink(c *gin.Context) {
	var req LinkRequest
	body, err := s.readJSON(c, &req)
	var p db.Partner
	if err == nil {
		p, err = s.activePartner(c)
	}
	var prog db.Program
	if err == nil {
		prog, err = s.store.GetProgram(c.Request.Context(), p.ProgramID)
	}
	if err == nil {
		err = allowedDestination(req.Destination, prog.AllowedDomains)
	}
	if err == nil && !subIDRe.MatchString(req.SubID) {
		err = domain.Invalid("sub_id", "invalid", "sub_id may hold letters, digits and . _ ~ -")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		if s.clicker != nil { // for self-referral checks: where this partner works from
			_ = q.SetPartnerIPHash(ctx, db.SetPartnerIPHashParams{ID: p.ID, LastIPHash: s.clicker.IPHash(clientIP(c))})
		}
		for range 5 { // codes are random: retry the rare collision
			l, err := q.CreateLink(ctx, db.CreateLinkParams{ID: uuid.Must(uuid.NewV7()), Code: newCode(), ProgramID: p.ProgramID, PartnerID: p.ID,
				Destination: req.Destination, SubID: req.SubID})
			if isUniqueViolation(err, "links_code_key") {
				continue
			}
			if err != nil {
				return answer{}, err
			}
			return answer{Status: http.StatusCreated, Body: s.linkView(c, l)}, nil
		}
		return answer{}, errors.New("could not find a free link code")
	})
}

func (s *Server) linkView(c *gin.Context, l db.Link) LinkView {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return LinkView{Link: l, URL: scheme + "://" + c.Request.Host + "/c/" + l.Code}
}

// allowedDestination refuses anything but http(s) URLs on the program's domains:
// the redirect can never be an open redirect.
func allowedDestination(raw string, allowed []string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return domain.Invalid("destination", "invalid", "destination must be an http(s) URL")
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range allowed {
		if host == d || strings.HasSuffix(host, "."+d) {
			return nil
		}
	}
	return domain.Invalid("destination", "domain_not_allowed", "links may point only to the program's domains: %s", strings.Join(allowed, ", "))
}

// newCode is a short, unguessable link code: 10 characters of base32, 50 bits.
func newCode() string { return strings.ToLower(rand.Text()[:10]) }

func (s *Server) activePartner(c *gin.Context) (db.Partner, error) {
	p, err := s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	if err == nil && p.Status != domain.StatusActive {
		err = domain.Forbidden("partner_not_active", "only an active partner can do this; this partner is %s", strings.ReplaceAll(p.Status, "_", " "))
	}
	return p, err
}

func (s *Server) listLinks(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListLinksParams{Limit: limit, After: after}
	if cl := caller(c); cl.Role == domain.RolePartner {
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.ListLinks(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	views := make([]LinkView, len(rows))
	for i, l := range rows {
		views[i] = s.linkView(c, l)
	}
	c.JSON(http.StatusOK, page(views, limit, func(v LinkView) uuid.UUID { return v.ID }))
}

// disableLink stops a link; the click cache drops it within seconds.
func (s *Server) disableLink(c *gin.Context) {
	l, err := loadOwned(c, "link", s.store.GetLink, func(l db.Link) uuid.UUID { return l.PartnerID })
	if err == nil {
		err = s.store.DisableLink(c.Request.Context(), l.ID)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

var couponRe = regexp.MustCompile(`^[A-Z0-9]{4,20}$`)

func (s *Server) createCoupon(c *gin.Context) {
	var req CouponRequest
	body, err := s.readJSON(c, &req)
	code := strings.ToUpper(strings.TrimSpace(req.Code))
	if err == nil && code != "" && !couponRe.MatchString(code) {
		err = domain.Invalid("code", "invalid", "a coupon code is 4 to 20 letters and digits")
	}
	var p db.Partner
	if err == nil {
		p, err = s.loadPartner(c.Request.Context(), uuid.MustParse(req.PartnerID))
		if de, ok := domain.AsError(err); ok && de.Kind == domain.KindNotFound {
			err = domain.Invalid("partner_id", "unknown_partner", "no partner with that id")
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		for range 5 {
			try := code
			if try == "" {
				try = strings.ToUpper(rand.Text()[:8])
			}
			cp, err := q.CreateCoupon(ctx, db.CreateCouponParams{ID: uuid.Must(uuid.NewV7()), Code: try, ProgramID: p.ProgramID, PartnerID: p.ID})
			if isUniqueViolation(err, "coupons_code_key") {
				if code != "" {
					return answer{}, domain.Conflict("code_taken", "coupon code %s exists or was used before; codes are never reused", code)
				}
				continue
			}
			return answer{Status: http.StatusCreated, Body: cp}, err
		}
		return answer{}, errors.New("could not find a free coupon code")
	})
}
