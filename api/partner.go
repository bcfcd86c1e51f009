package api

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

type ApplicationRequest struct {
	ProgramID     string `json:"program_id" validate:"required,uuid"`
	Name          string `json:"name" validate:"required,max=200"`
	Email         string `json:"email" validate:"required,max=254"`
	Company       string `json:"company" validate:"required,max=200"`
	WebsiteDomain string `json:"website_domain" validate:"required,max=253"`
	PartnerType   string `json:"partner_type" validate:"required"`
}

type DecisionRequest struct {
	Reason string `json:"reason" validate:"max=2000"`
}

type AgreementRequest struct {
	Version string `json:"version" validate:"required,max=50"`
}

type CertificationRequest struct {
	Name      string `json:"name" validate:"required,max=64"`
	PassedAt  string `json:"passed_at" validate:"required,datetime=2006-01-02"`
	ExpiresAt string `json:"expires_at" validate:"required,datetime=2006-01-02"`
}

// PartnerView is a partner as the API shows it: the stored record, where the
// onboarding process stands (from the workflow's status query) and its timeline.
type PartnerView struct {
	db.Partner
	Tier                   TierRef            `json:"tier"`
	Step                   string             `json:"step,omitempty"`
	RequiredCertifications []string           `json:"required_certifications"`
	MissingCertifications  []string           `json:"missing_certifications"`
	Certifications         []db.Certification `json:"certifications"`
	Timeline               []db.PartnerEvent  `json:"timeline,omitempty"`
	APIKey                 string             `json:"api_key,omitempty"` // only in the approval answer, once
	APIKeyNote             string             `json:"api_key_note,omitempty"`
}

type TierRef struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

func (s *Server) createApplication(c *gin.Context) {
	var req ApplicationRequest
	body, err := s.readJSON(c, &req)
	var website string
	if err == nil {
		website, err = validateApplication(&req)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	programID := uuid.MustParse(req.ProgramID)
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		tier, err := q.GetLowestTier(ctx, programID)
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
		}
		if err != nil {
			return answer{}, err
		}
		id := uuid.Must(uuid.NewV7())
		p, err := q.CreatePartner(ctx, db.CreatePartnerParams{
			ID: id, ProgramID: programID, TierID: tier.ID, Name: req.Name, Email: req.Email, Company: req.Company,
			WebsiteDomain: website, PartnerType: req.PartnerType, WorkflowID: ids.Partner(id),
		})
		if isUniqueViolation(err, "partners_open_application_key") {
			return answer{}, domain.Conflict("application_exists", "there is already an open application for this e-mail in this program")
		}
		if err != nil {
			return answer{}, err
		}
		// Recorded with the partner, started after the commit (or by the sweep).
		prog, err := q.GetProgram(ctx, programID)
		if err != nil {
			return answer{}, err
		}
		if err := starts.Record(ctx, q, workflows.PartnerStart(workflows.PartnerInput{PartnerID: id, ProgramID: programID, PartnerType: req.PartnerType},
			domain.PartnerSummary(req.Company, req.PartnerType, prog.Name))); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: PartnerView{Partner: p, Tier: TierRef{tier.ID, tier.Name}, Step: workflows.StepReview, Certifications: []db.Certification{}}}, nil
	})
}

func validateApplication(req *ApplicationRequest) (string, error) {
	if !domain.ValidEmail(req.Email) {
		return "", domain.Invalid("email", "invalid", "email must be an e-mail address such as ana@example.com")
	}
	if !domain.ValidPartnerType(req.PartnerType) {
		return "", domain.Invalid("partner_type", "invalid", "partner_type must be one of: %s", strings.Join(domain.PartnerTypes, ", "))
	}
	website, ok := domain.NormalizeDomain(req.WebsiteDomain)
	if !ok {
		return "", domain.Invalid("website_domain", "invalid", "website_domain must be a domain such as example.com")
	}
	req.Email = strings.ToLower(req.Email)
	req.Name, req.Company = strings.TrimSpace(req.Name), strings.TrimSpace(req.Company)
	if req.Name == "" || req.Company == "" {
		return "", domain.Invalid(map[bool]string{true: "name", false: "company"}[req.Name == ""], "required", "name and company may not be blank")
	}
	return website, nil
}

func (s *Server) listApplications(c *gin.Context) {
	status := c.DefaultQuery("status", "pending")
	if status == "pending" {
		status = domain.StatusPendingReview
	}
	s.listPartnersWith(c, &status)
}

func (s *Server) listPartners(c *gin.Context) { s.listPartnersWith(c, queryString(c, "status")) }

func (s *Server) listPartnersWith(c *gin.Context, status *string) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListPartnersParams{Limit: limit, After: after, Status: status}
	if params.ProgramID, err = queryUUID(c, "program_id"); err == nil {
		params.TierID, err = queryUUID(c, "tier_id")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.ListPartners(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(p db.Partner) uuid.UUID { return p.ID }))
}

// partnerFor loads the partner in the path; a partner key sees only itself.
func (s *Server) partnerFor(c *gin.Context) (db.Partner, error) {
	return loadOwned(c, "partner", s.store.GetPartner, func(p db.Partner) uuid.UUID { return p.ID })
}

func (s *Server) loadPartner(ctx context.Context, id uuid.UUID) (db.Partner, error) {
	p, err := s.store.GetPartner(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, domain.NotFound("partner")
	}
	return p, err
}

func (s *Server) getPartner(c *gin.Context) {
	p, err := s.partnerFor(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	s.showPartner(c, p)
}

func (s *Server) getMe(c *gin.Context) {
	p, err := s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	if err != nil {
		s.abort(c, err)
		return
	}
	s.showPartner(c, p)
}

func (s *Server) showPartner(c *gin.Context, p db.Partner) {
	ctx := c.Request.Context()
	v, err := s.partnerView(ctx, p)
	if err != nil {
		s.abort(c, err)
		return
	}
	if v.Timeline, err = s.store.ListPartnerEvents(ctx, p.ID); err != nil {
		s.abort(c, err)
		return
	}
	// The current step comes from the workflow itself; if Temporal cannot answer
	// quickly, the stored status still is.
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if resp, err := s.temporal.QueryWorkflow(qctx, p.WorkflowID, "", workflows.PartnerStatusQuery); err == nil {
		var st workflows.PartnerState
		if resp.Get(&st) == nil {
			v.withState(st)
		}
	} else {
		s.logger.WarnContext(ctx, "partner status query failed", "workflow_id", p.WorkflowID, "error", err)
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) partnerView(ctx context.Context, p db.Partner) (PartnerView, error) {
	tier, err := s.store.GetTier(ctx, p.TierID)
	if err != nil {
		return PartnerView{}, err
	}
	certs, err := s.store.ListCertifications(ctx, p.ID)
	if err != nil {
		return PartnerView{}, err
	}
	return PartnerView{Partner: p, Tier: TierRef{tier.ID, tier.Name}, Certifications: certs}, nil
}

// partnerDecision sends one onboarding decision to the partner's workflow.
func (s *Server) partnerDecision(c *gin.Context, p db.Partner, name string, body []byte, reason string, arg func(prepared json.RawMessage) (any, error)) {
	var st workflows.PartnerState
	s.decide(c, decision{
		Record: "partner", RecordID: p.ID, WorkflowID: p.WorkflowID, Update: name, Reason: reason, Body: body,
		Arg: arg, Result: &st,
		Ended: func() error {
			return domain.Conflict("process_ended", "the onboarding of this partner has ended (status %s)", p.Status)
		},
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) { return s.partnerAnswer(ctx, p.ID, st) },
	})
}

func (s *Server) approvePartner(c *gin.Context) { s.decision(c, true) }
func (s *Server) rejectPartner(c *gin.Context)  { s.decision(c, false) }

// pendingKey is the partner's first API key, made (inactive) before the approval
// is sent and kept with the Idempotency-Key's claim, so a retry hands out the
// same key. The approval activates it in the transaction that approves.
type pendingKey struct {
	ID  uuid.UUID `json:"id"`
	Key string    `json:"key"`
}

func (s *Server) decision(c *gin.Context, approve bool) {
	p, err := s.partnerFor(c)
	var req DecisionRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil && !approve && strings.TrimSpace(req.Reason) == "" {
		err = domain.Invalid("reason", "required", "a rejection needs a reason")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	actor := caller(c).Actor()
	if !approve {
		s.partnerDecision(c, p, workflows.PartnerReject, body, req.Reason, func(json.RawMessage) (any, error) {
			return workflows.Decision{Actor: actor, Reason: req.Reason}, nil
		})
		return
	}
	var st workflows.PartnerState
	s.decide(c, decision{
		Record: "partner", RecordID: p.ID, WorkflowID: p.WorkflowID, Update: workflows.PartnerApprove, Reason: req.Reason, Body: body,
		Prepare: func(ctx context.Context, q *db.Queries, earlier json.RawMessage) (json.RawMessage, error) {
			if earlier != nil {
				return earlier, nil
			}
			k, err := CreatePendingPartnerKey(ctx, q, p.ID)
			if err != nil {
				return nil, err
			}
			return json.Marshal(pendingKey{ID: k.ID, Key: k.Key})
		},
		Arg: func(prepared json.RawMessage) (any, error) {
			var k pendingKey
			if err := json.Unmarshal(prepared, &k); err != nil {
				return nil, err
			}
			return workflows.Decision{Actor: actor, Reason: req.Reason, APIKeyID: &k.ID}, nil
		},
		Result: &st,
		Ended: func() error {
			return domain.Conflict("process_ended", "the onboarding of this partner has ended (status %s)", p.Status)
		},
		Refused: func(ctx context.Context, q *db.Queries, prepared json.RawMessage) error {
			var k pendingKey
			if err := json.Unmarshal(prepared, &k); err != nil {
				return err
			}
			return q.DeletePendingAPIKey(ctx, k.ID)
		},
		Answer: func(ctx context.Context, prepared json.RawMessage) (answer, error) {
			var k pendingKey
			_ = json.Unmarshal(prepared, &k)
			ans, err := s.partnerAnswer(ctx, p.ID, st)
			if err != nil {
				return ans, err
			}
			// The key is in the stored answer too: a retry with the same
			// Idempotency-Key (the first answer may have been lost) hands it out again.
			v := ans.Body.(PartnerView)
			v.APIKey = k.Key
			v.APIKeyNote = "the partner's API key is shown only to this request (and its retries with the same Idempotency-Key); hand it to the partner now"
			return answer{Status: http.StatusOK, Body: v}, nil
		},
	})
}

func (s *Server) acceptAgreement(c *gin.Context) {
	var req AgreementRequest
	body, err := s.readJSON(c, &req)
	var p db.Partner
	if err == nil {
		p, err = s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.partnerDecision(c, p, workflows.PartnerAcceptAgreement, body, "terms "+req.Version, func(json.RawMessage) (any, error) {
		return workflows.AgreementAcceptance{Version: req.Version, Actor: caller(c).Actor()}, nil
	})
}

func (s *Server) recordCertification(c *gin.Context) {
	p, err := s.partnerFor(c)
	var req CertificationRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil && !domain.ValidCertificationName(req.Name) {
		err = domain.Invalid("name", "invalid", "name must be a lower-case slug such as sales-fundamentals")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	passed, _ := time.Parse(time.DateOnly, req.PassedAt)
	expires, _ := time.Parse(time.DateOnly, req.ExpiresAt)
	var st workflows.PartnerState
	s.decide(c, decision{
		Record: "partner", RecordID: p.ID, WorkflowID: p.WorkflowID, Update: workflows.PartnerCertify, Reason: req.Name, Body: body,
		Arg: func(json.RawMessage) (any, error) {
			return workflows.CertificationRecord{Certification: domain.Certification{Name: req.Name, PassedAt: passed, ExpiresAt: expires}, Actor: caller(c).Actor()}, nil
		},
		Result: &st,
		Ended: func() error {
			return domain.Conflict("process_ended", "the onboarding of this partner has ended (status %s)", p.Status)
		},
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
			ans, err := s.partnerAnswer(ctx, p.ID, st)
			ans.Status = http.StatusCreated
			return ans, err
		},
	})
}

// partnerAnswer is the partner after a decision: the stored record and the
// workflow's state as the Update returned it.
func (s *Server) partnerAnswer(ctx context.Context, id uuid.UUID, st workflows.PartnerState) (answer, error) {
	fresh, err := s.store.GetPartner(ctx, id)
	if err != nil {
		return answer{}, err
	}
	v, err := s.partnerView(ctx, fresh)
	v.withState(st)
	return answer{Status: http.StatusOK, Body: v}, err
}

func (v *PartnerView) withState(st workflows.PartnerState) {
	v.Step, v.RequiredCertifications, v.MissingCertifications = st.Step, st.Policy.RequiredCertifications, st.MissingCertifications
}

type TierChangeRequest struct {
	TierID string `json:"tier_id" validate:"required,uuid"`
	Reason string `json:"reason" validate:"max=500"`
}

// setPartnerTier moves an onboarded partner to another tier of its program: a
// decision on the partner's workflow (reason required), in the timeline and the
// audit log, told to the partner (a notification, partner.tier_changed webhooks).
func (s *Server) setPartnerTier(c *gin.Context) {
	p, err := s.partnerFor(c)
	var req TierChangeRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil && strings.TrimSpace(req.Reason) == "" {
		err = domain.Invalid("reason", "required", "a tier change needs a reason")
	}
	var tier db.Tier
	if err == nil {
		tier, err = s.store.GetTier(c.Request.Context(), uuid.MustParse(req.TierID))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && tier.ProgramID != p.ProgramID) {
			err = domain.Invalid("tier_id", "unknown_tier", "no tier with that id in the partner's program")
		}
	}
	if err == nil && tier.ID == p.TierID {
		err = domain.Conflict("same_tier", "the partner is already in the %s tier", tier.Name)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	var st workflows.PartnerState
	s.decide(c, decision{
		Record: "partner", RecordID: p.ID, WorkflowID: p.WorkflowID, Update: workflows.PartnerSetTier, Reason: req.Reason, Body: body,
		Arg: func(json.RawMessage) (any, error) {
			return workflows.TierChange{TierID: tier.ID, TierName: tier.Name, Actor: caller(c).Actor(), Reason: req.Reason}, nil
		},
		Result: &st,
		Ended: func() error {
			return domain.Conflict("process_ended", "the partner's process has ended (status %s)", p.Status)
		},
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) { return s.partnerAnswer(ctx, p.ID, st) },
	})
}
