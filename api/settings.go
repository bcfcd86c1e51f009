package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

type DealSettingsRequest struct {
	ApprovalSLAHours int32          `json:"approval_sla_hours" validate:"required,min=1,max=8760"`
	AutoDecision     string         `json:"auto_decision" validate:"required,oneof=none approve reject"`
	MaxExtensions    *int32         `json:"max_extensions" validate:"required,min=0,max=10"`
	ExtensionDays    int32          `json:"extension_days" validate:"required,min=1,max=365"`
	Stages           []StageSetting `json:"stages" validate:"required,min=1,max=20,dive"`
	// WonAutoConfirmPercent: a partner's reported win at most this % over the
	// deal's estimate is won without a manager; absent, every report needs one.
	WonAutoConfirmPercent *Amount `json:"won_auto_confirm_percent"`
}

type StageSetting struct {
	Name        string `json:"name" validate:"required,max=50"`
	Probability *Rate  `json:"probability" validate:"required"`
}

type MDFSettingsRequest struct {
	ApprovalSLAHours int32  `json:"approval_sla_hours" validate:"required,min=1,max=8760"`
	ClaimWindowDays  int32  `json:"claim_window_days" validate:"required,min=1,max=365"`
	ProofWindowDays  int32  `json:"proof_window_days" validate:"required,min=1,max=365"`
	GraceDays        *int32 `json:"grace_days" validate:"required,min=0,max=365"`
}

// setDealSettings sets how the program's deal registrations run: approval SLA,
// auto-decision at three times the SLA, extensions and the stages with their win
// probabilities. Deals registered from now on follow them.
func (s *Server) setDealSettings(c *gin.Context) {
	var req DealSettingsRequest
	s.updateSettings(c, &req, func() error {
		var names []string
		for _, st := range req.Stages {
			if !domain.ValidCertificationName(st.Name) { // the same lower-case slug rule
				return domain.Invalid("stages", "invalid", "stage names are lower-case slugs such as proposal")
			}
			if st.Probability.IsNegative() || st.Probability.GreaterThan(domainOne) {
				return domain.Invalid("stages", "invalid", "a stage's probability is from 0 to 1")
			}
			if st.Name == "won" || st.Name == "lost" || slices.Contains(names, st.Name) {
				return domain.Invalid("stages", "invalid", "stage names are unique, and won and lost are not stages")
			}
			names = append(names, st.Name)
		}
		if p := req.WonAutoConfirmPercent; p != nil && (p.IsNegative() || p.GreaterThan(decimal.NewFromInt(100))) {
			return domain.Invalid("won_auto_confirm_percent", "invalid", "won_auto_confirm_percent is a percentage from 0 to 100")
		}
		return nil
	}, func(ctx context.Context, q *db.Queries, id uuid.UUID) error {
		stages := make([]domain.Stage, len(req.Stages))
		for i, st := range req.Stages {
			stages[i] = domain.Stage{Name: st.Name, Probability: st.Probability.Decimal}
		}
		js, _ := json.Marshal(stages)
		return q.SetDealSettings(ctx, db.SetDealSettingsParams{ID: id, DealApprovalSLAHours: req.ApprovalSLAHours, DealAutoDecision: req.AutoDecision,
			DealMaxExtensions: *req.MaxExtensions, DealExtensionDays: req.ExtensionDays, DealStages: js, WonAutoConfirmPercent: domain.NewNullNumeric(req.WonAutoConfirmPercent.dec())})
	})
}

// setMDFSettings sets the program's MDF windows: pre-approval SLA, claim window
// after the activity, the window to send more proof, and the grace after quarter end.
func (s *Server) setMDFSettings(c *gin.Context) {
	var req MDFSettingsRequest
	s.updateSettings(c, &req, func() error { return nil }, func(ctx context.Context, q *db.Queries, id uuid.UUID) error {
		return q.SetMDFSettings(ctx, db.SetMDFSettingsParams{ID: id, MDFApprovalSLAHours: req.ApprovalSLAHours, MDFClaimWindowDays: req.ClaimWindowDays,
			MDFProofWindowDays: req.ProofWindowDays, MDFGraceDays: *req.GraceDays})
	})
}

// updateSettings is the shape of every settings endpoint: decode, check, write,
// answer with the program.
func (s *Server) updateSettings(c *gin.Context, req any, check func() error, apply func(context.Context, *db.Queries, uuid.UUID) error) {
	id, err := pathID(c, "program")
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, req)
	}
	if err == nil {
		err = check()
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		if _, err := q.GetProgram(ctx, id); errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.NotFound("program")
		} else if err != nil {
			return answer{}, err
		}
		if err := apply(ctx, q, id); err != nil {
			return answer{}, err
		}
		// The audit event keeps the request itself: what was set, by whom.
		if err := audit(ctx, c, q, "program.update_"+path.Base(c.FullPath()), "program", id, "", json.RawMessage(body)); err != nil {
			return answer{}, err
		}
		s.programs.forget(id)
		p, err := q.GetProgram(ctx, id)
		if err != nil {
			return answer{}, err
		}
		v, err := programView(ctx, q, p)
		return answer{Status: http.StatusOK, Body: v}, err
	})
}

type AffiliateSettingsRequest struct {
	AllowedDomains   []string `json:"allowed_domains" validate:"required,min=1,max=50"`
	FallbackURL      string   `json:"fallback_url" validate:"max=2000"`
	AttributionModel string   `json:"attribution_model" validate:"omitempty,oneof=last_click first_click"`
	CookieWindowDays int32    `json:"cookie_window_days" validate:"omitempty,min=1,max=365"`
	HoldingDays      *int32   `json:"holding_days" validate:"omitempty,min=0,max=365"`
	// ClickIDParam: the query parameter the click redirect appends the click id
	// under (default po_click_id); absent keeps the current one.
	ClickIDParam string `json:"click_id_param" validate:"max=32"`
	// TrackingDomain: the program's own tracking host (go.merchant.example, a
	// CNAME to partnerops); "" removes it, absent keeps it.
	TrackingDomain *string `json:"tracking_domain" validate:"omitempty,max=253"`
}

// setAffiliateSettings configures a program's tracking: allowed destination
// domains, fallback URL, attribution model, cookie window and holding period.
func (s *Server) setAffiliateSettings(c *gin.Context) {
	id, err := pathID(c, "program")
	var req AffiliateSettingsRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	domains := []string{}
	for _, d := range req.AllowedDomains {
		if err != nil {
			break
		}
		n, ok := domain.NormalizeDomain(d)
		if !ok {
			err = domain.Invalid("allowed_domains", "invalid", "%q is not a domain", d)
		}
		domains = append(domains, n)
	}
	if err == nil && req.ClickIDParam != "" && !domain.ValidClickIDParam(req.ClickIDParam) {
		err = domain.Invalid("click_id_param", "invalid", "click_id_param is a letter, then letters, digits or underscores (at most 32)")
	}
	if err == nil && req.TrackingDomain != nil && *req.TrackingDomain != "" {
		host, _, ok := domain.TrackingDomain(*req.TrackingDomain)
		if !ok {
			err = domain.Invalid("tracking_domain", "invalid", "tracking_domain is a host name below a registrable domain, such as go.merchant.example")
		}
		req.TrackingDomain = &host
	}
	var fallback *string
	if err == nil && req.FallbackURL != "" {
		if err = allowedDestination(req.FallbackURL, domains); err != nil {
			err = domain.Invalid("fallback_url", "invalid", "fallback_url must be an http(s) URL on an allowed domain")
		}
		fallback = &req.FallbackURL
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	slices.Sort(domains)
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		p, err := q.GetProgram(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.NotFound("program")
		}
		if err != nil {
			return answer{}, err
		}
		model, window, holding := p.AttributionModel, p.CookieWindowDays, p.HoldingDays
		if req.AttributionModel != "" {
			model = req.AttributionModel
		}
		if req.CookieWindowDays != 0 {
			window = req.CookieWindowDays
		}
		if req.HoldingDays != nil {
			holding = *req.HoldingDays
		}
		param, tracking := p.ClickIDParam, p.TrackingDomain
		if req.ClickIDParam != "" {
			param = req.ClickIDParam
		}
		if req.TrackingDomain != nil {
			tracking = req.TrackingDomain
			if *tracking == "" {
				tracking = nil
			}
		}
		err = q.SetAffiliateSettings(ctx, db.SetAffiliateSettingsParams{ID: id, AllowedDomains: slices.Compact(domains), FallbackURL: fallback,
			AttributionModel: model, CookieWindowDays: window, HoldingDays: holding, ClickIDParam: param, TrackingDomain: tracking})
		if isUniqueViolation(err, "programs_tracking_domain_key") {
			return answer{}, domain.Conflict("tracking_domain_taken", "another program tracks on %s", *tracking)
		}
		if err != nil {
			return answer{}, err
		}
		if err := q.TouchProgramLinks(ctx, id); err != nil { // the click cache reloads them with the new settings
			return answer{}, err
		}
		if err := audit(ctx, c, q, "program.update_affiliate", "program", id, "", json.RawMessage(body)); err != nil {
			return answer{}, err
		}
		s.programs.forget(id)
		p, err = q.GetProgram(ctx, id)
		if err != nil {
			return answer{}, err
		}
		v, err := programView(ctx, q, p)
		return answer{Status: http.StatusOK, Body: v}, err
	})
}

// addSigningSecret makes a new secret for signed conversions and shows it once;
// the newest two are accepted, so a merchant can rotate without downtime.
func (s *Server) addSigningSecret(c *gin.Context) {
	id, err := pathID(c, "program")
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, nil, func(ctx context.Context, q *db.Queries) (answer, error) {
		if _, err := q.GetProgram(ctx, id); errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.NotFound("program")
		} else if err != nil {
			return answer{}, err
		}
		secret := "whsec_" + strings.ToLower(rand.Text()+rand.Text())
		if err := q.AddSigningSecret(ctx, db.AddSigningSecretParams{ID: id, Secret: secret}); err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "program.add_signing_secret", "program", id, "", nil); err != nil {
			return answer{}, err
		}
		s.programs.forget(id)
		return answer{Status: http.StatusCreated, Body: gin.H{"secret": secret, "note": "shown once; the previous secret stays valid until the next rotation"},
			Stored: gin.H{"note": "the secret was shown once in the first answer"}}, nil
	})
}

type PayoutSettingsRequest struct {
	PayoutMinimum *Amount `json:"payout_minimum" validate:"required"`
	Provider      string  `json:"payout_provider" validate:"required,oneof=file http"`
}

// setPayoutSettings sets a program's payout minimum and provider (admin).
func (s *Server) setPayoutSettings(c *gin.Context) {
	var req PayoutSettingsRequest
	check := func() error {
		if req.PayoutMinimum.IsNegative() {
			return domain.Invalid("payout_minimum", "invalid", "payout_minimum is a non-negative amount with at most 2 decimals")
		}
		return nil
	}
	s.updateSettings(c, &req, check, func(ctx context.Context, q *db.Queries, id uuid.UUID) error {
		return q.SetPayoutSettings(ctx, db.SetPayoutSettingsParams{ID: id, PayoutMinimum: domain.NewNumeric(req.PayoutMinimum.Decimal), PayoutProvider: req.Provider})
	})
}
