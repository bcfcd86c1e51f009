package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

type TierInput struct {
	Name                   string   `json:"name" validate:"required,max=100"`
	Rank                   *int32   `json:"rank" validate:"required,min=0,max=1000"`
	DealProtectionDays     *int32   `json:"deal_protection_days" validate:"omitempty,min=1,max=3650"`
	MDFQuarterlyAllocation *Amount  `json:"mdf_quarterly_allocation"`
	DefaultMargin          *Rate    `json:"default_margin"`
	RequiredCertifications []string `json:"required_certifications" validate:"max=20"`
	// What the tier review asks of the tier's partners over the trailing twelve
	// months (absent: nothing): closed-won deal revenue, attributed affiliate revenue.
	MinWonRevenue       *Amount `json:"min_won_revenue"`
	MinAffiliateRevenue *Amount `json:"min_affiliate_revenue"`
}

type CreateProgramRequest struct {
	Name             string              `json:"name" validate:"required,max=200"`
	Kind             string              `json:"kind" validate:"required,oneof=affiliate channel hybrid"`
	Currency         string              `json:"currency" validate:"required,len=3,uppercase"`
	ReviewSLAHours   *int32              `json:"review_sla_hours" validate:"omitempty,min=1,max=8760"`
	AgreementVersion string              `json:"agreement_version" validate:"max=50"`
	Tiers            []TierInput         `json:"tiers" validate:"max=20,dive"`
	Certifications   map[string][]string `json:"certifications"` // partner type → required certification names
	// TierReviewGraceDays: how long a partner below its tier's criteria keeps it (default 90).
	TierReviewGraceDays *int32 `json:"tier_review_grace_days" validate:"omitempty,min=0,max=365"`
}

type ProgramView struct {
	db.Program
	Tiers          []db.Tier           `json:"tiers"`
	Certifications map[string][]string `json:"certifications"`
}

func (s *Server) createProgram(c *gin.Context) {
	var req CreateProgramRequest
	body, err := s.readJSON(c, &req)
	if err == nil {
		err = validateProgram(&req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		sla := int32(48)
		if req.ReviewSLAHours != nil {
			sla = *req.ReviewSLAHours
		}
		version := req.AgreementVersion
		if version == "" {
			version = "v1"
		}
		grace := int32(90)
		if req.TierReviewGraceDays != nil {
			grace = *req.TierReviewGraceDays
		}
		p, err := q.CreateProgram(ctx, db.CreateProgramParams{ID: uuid.Must(uuid.NewV7()), Name: req.Name, Kind: req.Kind, Currency: req.Currency, ReviewSLAHours: sla,
			AgreementVersion: version, TierReviewGraceDays: grace})
		if isUniqueViolation(err, "programs_name_key") {
			return answer{}, domain.Conflict("name_taken", "a program named %q exists", req.Name)
		}
		if err != nil {
			return answer{}, err
		}
		tiers := req.Tiers
		if len(tiers) == 0 { // every program has a lowest tier for new partners to join
			zero := int32(0)
			tiers = []TierInput{{Name: "Registered", Rank: &zero}}
		}
		for _, t := range tiers {
			if _, err := insertTier(ctx, q, p.ID, t); err != nil {
				return answer{}, err
			}
		}
		for _, pt := range sortedKeys(req.Certifications) {
			for _, name := range req.Certifications[pt] {
				if err := q.AddProgramCertification(ctx, db.AddProgramCertificationParams{ProgramID: p.ID, PartnerType: pt, Certification: name}); err != nil {
					return answer{}, err
				}
			}
		}
		view, err := programView(ctx, q, p)
		return answer{Status: http.StatusCreated, Body: view}, err
	})
}

func validateProgram(req *CreateProgramRequest) error {
	if err := domain.CheckProgramCurrency(req.Currency); err != nil {
		return err
	}
	ranks := map[int32]bool{}
	names := map[string]bool{}
	for _, t := range req.Tiers {
		if err := validateTier(t); err != nil {
			return err
		}
		if ranks[*t.Rank] || names[t.Name] {
			return domain.Invalid("tiers", "duplicate_tier", "tier names and ranks must be unique")
		}
		ranks[*t.Rank], names[t.Name] = true, true
	}
	for pt, certs := range req.Certifications {
		if !domain.ValidPartnerType(pt) {
			return domain.Invalid("certifications", "unknown_partner_type", "%q is not a partner type", pt)
		}
		for _, name := range certs {
			if !domain.ValidCertificationName(name) {
				return domain.Invalid("certifications", "invalid_name", "%q is not a certification name (a lower-case slug)", name)
			}
		}
	}
	return nil
}

func validateTier(t TierInput) error {
	if t.MDFQuarterlyAllocation != nil && (t.MDFQuarterlyAllocation.IsNegative() || t.MDFQuarterlyAllocation.Exponent() < -2) {
		return domain.Invalid("mdf_quarterly_allocation", "invalid_amount", "mdf_quarterly_allocation must be a non-negative amount with at most 2 decimals")
	}
	if t.DefaultMargin != nil && (t.DefaultMargin.IsNegative() || t.DefaultMargin.GreaterThan(decimal.NewFromInt(1)) || t.DefaultMargin.Exponent() < -4) {
		return domain.Invalid("default_margin", "invalid_margin", "default_margin is a fraction from 0 to 1 (0.15 is 15%%), at most 4 decimals")
	}
	for field, a := range map[string]*Amount{"min_won_revenue": t.MinWonRevenue, "min_affiliate_revenue": t.MinAffiliateRevenue} {
		if a != nil && a.IsNegative() {
			return domain.Invalid(field, "invalid_amount", "%s is a non-negative amount", field)
		}
	}
	for _, name := range t.RequiredCertifications {
		if !domain.ValidCertificationName(name) {
			return domain.Invalid("required_certifications", "invalid_name", "%q is not a certification name (a lower-case slug)", name)
		}
	}
	return nil
}

func insertTier(ctx context.Context, q *db.Queries, programID uuid.UUID, t TierInput) (db.Tier, error) {
	params := db.CreateTierParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, Name: t.Name, Rank: *t.Rank,
		DealProtectionDays: 90, MDFQuarterlyAllocation: domain.NewNumeric(decimal.Zero), DefaultMargin: domain.NewNumeric(decimal.Zero), RequiredCertifications: []string{}}
	if t.DealProtectionDays != nil {
		params.DealProtectionDays = *t.DealProtectionDays
	}
	if t.MDFQuarterlyAllocation != nil {
		params.MDFQuarterlyAllocation = domain.NewNumeric(t.MDFQuarterlyAllocation.Decimal)
	}
	if t.DefaultMargin != nil {
		params.DefaultMargin = domain.NewNumeric(t.DefaultMargin.Decimal)
	}
	if t.RequiredCertifications != nil {
		params.RequiredCertifications = t.RequiredCertifications
	}
	params.MinWonRevenue, params.MinAffiliateRevenue = domain.NewNullNumeric(t.MinWonRevenue.dec()), domain.NewNullNumeric(t.MinAffiliateRevenue.dec())
	tier, err := q.CreateTier(ctx, params)
	if isUniqueViolation(err, "tiers_program_id_rank_key") || isUniqueViolation(err, "tiers_program_id_name_key") {
		return tier, domain.Conflict("tier_exists", "the program already has a tier with that name or rank")
	}
	return tier, err
}

func programView(ctx context.Context, q *db.Queries, p db.Program) (ProgramView, error) {
	tiers, err := q.ListTiers(ctx, p.ID)
	if err != nil {
		return ProgramView{}, err
	}
	certs, err := q.ListProgramCertifications(ctx, p.ID)
	if err != nil {
		return ProgramView{}, err
	}
	v := ProgramView{Program: p, Tiers: tiers, Certifications: map[string][]string{}}
	for _, pc := range certs {
		v.Certifications[pc.PartnerType] = append(v.Certifications[pc.PartnerType], pc.Certification)
	}
	return v, nil
}

func (s *Server) getProgram(c *gin.Context) {
	id, err := pathID(c, "program")
	if err != nil {
		s.abort(c, err)
		return
	}
	p, err := s.store.GetProgram(c.Request.Context(), id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = domain.NotFound("program")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	v, err := programView(c.Request.Context(), s.store.Queries, withoutSecrets(c, p))
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// withoutSecrets hides the conversion signing secrets from everyone but admins:
// whoever holds one can forge signed conversions.
func withoutSecrets(c *gin.Context, p db.Program) db.Program {
	if caller(c).Role != domain.RoleAdmin {
		p.SigningSecrets = []string{}
	}
	return p
}

func (s *Server) listPrograms(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.ListPrograms(c.Request.Context(), db.ListProgramsParams{Limit: limit, After: after})
	if err != nil {
		s.abort(c, err)
		return
	}
	for i := range rows {
		rows[i] = withoutSecrets(c, rows[i])
	}
	c.JSON(http.StatusOK, page(rows, limit, func(p db.Program) uuid.UUID { return p.ID }))
}

func (s *Server) createTier(c *gin.Context) {
	id, err := pathID(c, "program")
	if err != nil {
		s.abort(c, err)
		return
	}
	var req TierInput
	body, err := s.readJSON(c, &req)
	if err == nil {
		err = validateTier(req)
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
		t, err := insertTier(ctx, q, id, req)
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "program.add_tier", "program", id, t.Name, gin.H{"tier_id": t.ID}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: t}, nil
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
