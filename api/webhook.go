package api

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

type WebhookEndpointRequest struct {
	URL         string   `json:"url" validate:"required,max=2000"`
	EventTypes  []string `json:"event_types" validate:"max=20"`
	Description string   `json:"description" validate:"max=200"`
	// ProgramID: an admin's endpoint gets every event of this program; a
	// partner's endpoint gets its own events (the partner's program).
	ProgramID string `json:"program_id" validate:"omitempty,uuid"`
}

// WebhookEndpointView is an endpoint; Secret only in the answer that created it.
type WebhookEndpointView struct {
	db.WebhookEndpoint
	Secret string `json:"secret,omitempty"`
	Note   string `json:"note,omitempty"`
}

// createWebhookEndpoint registers where events go: a partner for its own events,
// an admin for every event of a program. The signing secret is shown once.
func (s *Server) createWebhookEndpoint(c *gin.Context) {
	var req WebhookEndpointRequest
	body, err := s.readJSON(c, &req)
	var target string
	if err == nil {
		target, err = domain.WebhookURL(req.URL, s.cfg.WebhookAllowPrivate)
	}
	for _, t := range req.EventTypes {
		if err == nil && !domain.ValidEventType(t) {
			err = domain.Invalid("event_types", "unknown_event_type", "%q is not an event type (%s)", t, strings.Join(domain.EventTypes, ", "))
		}
	}
	cl := caller(c)
	var programID uuid.UUID
	partnerID := uuid.NullUUID{}
	if err == nil {
		switch {
		case cl.Role == domain.RolePartner:
			var p db.Partner
			if p, err = s.loadPartner(c.Request.Context(), cl.PartnerID); err == nil {
				programID, partnerID = p.ProgramID, uuid.NullUUID{UUID: p.ID, Valid: true}
			}
			if req.ProgramID != "" && req.ProgramID != programID.String() {
				err = domain.Invalid("program_id", "not_yours", "a partner's endpoint gets its own program's events")
			}
		case req.ProgramID == "":
			err = domain.Invalid("program_id", "required", "program_id is required: the program whose events the endpoint gets")
		default:
			programID = uuid.MustParse(req.ProgramID)
			if _, gerr := s.store.GetProgram(c.Request.Context(), programID); errors.Is(gerr, pgx.ErrNoRows) {
				err = domain.Invalid("program_id", "unknown_program", "no program with that id")
			} else {
				err = gerr
			}
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	types := slices.Compact(slices.Sorted(slices.Values(req.EventTypes)))
	if types == nil {
		types = []string{}
	}
	secret := "whsec_" + strings.ToLower(rand.Text()+rand.Text())
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		e, err := q.CreateWebhookEndpoint(ctx, db.CreateWebhookEndpointParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, PartnerID: partnerID,
			URL: target, EventTypes: types, Secrets: []string{secret}, Description: req.Description, CreatedBy: cl.Actor()})
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "webhook_endpoint.create", "webhook_endpoint", e.ID, "", nil); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: WebhookEndpointView{WebhookEndpoint: e, Secret: secret,
			Note: "the signing secret is shown only now: verify X-Partnerops-Signature (t=<unix>,v1=<HMAC-SHA256 of \"<t>.<body>\">) with it"}}, nil
	})
}

func (s *Server) listWebhookEndpoints(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	params := db.ListWebhookEndpointsParams{Lim: limit, After: after}
	if err == nil {
		params.ProgramID, err = queryUUID(c, "program_id")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	if cl := caller(c); cl.Role == domain.RolePartner {
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.ListWebhookEndpoints(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(e db.WebhookEndpoint) uuid.UUID { return e.ID }))
}

func endpointOwner(e db.WebhookEndpoint) uuid.UUID { return e.PartnerID.UUID }

// deleteWebhookEndpoint disables it: nothing more is delivered; its deliveries stay listed.
func (s *Server) deleteWebhookEndpoint(c *gin.Context) {
	e, err := loadOwned(c, "webhook_endpoint", s.store.GetWebhookEndpoint, endpointOwner)
	if err == nil {
		err = s.store.DisableWebhookEndpoint(c.Request.Context(), db.DisableWebhookEndpointParams{ID: e.ID, Reason: "deleted by " + caller(c).Actor()})
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// WebhookDeliveryView is a delivery with every attempt made.
type WebhookDeliveryView struct {
	db.WebhookDelivery
	WorkflowID string              `json:"workflow_id"`
	Attempts   []db.WebhookAttempt `json:"attempt_log"`
}

func (s *Server) listWebhookDeliveries(c *gin.Context) {
	e, err := loadOwned(c, "webhook_endpoint", s.store.GetWebhookEndpoint, endpointOwner)
	limit, after, perr := s.pageParams(c)
	if err == nil {
		err = perr
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	ctx := c.Request.Context()
	rows, err := s.store.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{EndpointID: e.ID, After: after, Lim: limit})
	if err != nil {
		s.abort(c, err)
		return
	}
	idsOf := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		idsOf[i] = r.ID
	}
	attempts, err := s.store.ListWebhookAttempts(ctx, idsOf)
	if err != nil {
		s.abort(c, err)
		return
	}
	views := make([]WebhookDeliveryView, len(rows))
	for i, r := range rows {
		views[i] = WebhookDeliveryView{WebhookDelivery: r, WorkflowID: ids.WebhookDelivery(r.ID, max(r.Runs, 1)), Attempts: []db.WebhookAttempt{}}
		for _, a := range attempts {
			if a.DeliveryID == r.ID {
				views[i].Attempts = append(views[i].Attempts, a)
			}
		}
	}
	c.JSON(http.StatusOK, page(views, limit, func(v WebhookDeliveryView) uuid.UUID { return v.ID }))
}

// replayWebhookDelivery sends a delivery again (same event id: receivers that
// already have it de-duplicate), as a new run of its workflow.
func (s *Server) replayWebhookDelivery(c *gin.Context) {
	d, err := loadOwned(c, "webhook_delivery", s.store.GetWebhookDelivery, func(d db.GetWebhookDeliveryRow) uuid.UUID { return d.PartnerID.UUID })
	if err == nil && d.EndpointDisabledAt != nil {
		err = domain.Conflict("endpoint_disabled", "the endpoint is disabled: register it again")
	}
	if err == nil && d.Status == "pending" && d.StartedAt != nil {
		err = domain.Conflict("delivery_in_progress", "the delivery is still being retried")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	run, err := activities.StartWebhookRun(c.Request.Context(), s.store, s.temporal, workflows.TaskQueue, d.ID)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"delivery_id": d.ID, "event_id": d.EventID, "run": run, "workflow_id": ids.WebhookDelivery(d.ID, run)})
}

// rotateWebhookSecret makes a new signing secret (shown once); deliveries are
// signed with it and with the previous one until the next rotation, so a
// receiver can switch without missing one.
func (s *Server) rotateWebhookSecret(c *gin.Context) {
	e, err := loadOwned(c, "webhook_endpoint", s.store.GetWebhookEndpoint, endpointOwner)
	if err == nil && e.DisabledAt != nil {
		err = domain.Conflict("endpoint_disabled", "the endpoint is disabled: register it again")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	secret := "whsec_" + strings.ToLower(rand.Text()+rand.Text())
	s.write(c, nil, func(ctx context.Context, q *db.Queries) (answer, error) {
		rotated, err := q.RotateWebhookSecret(ctx, db.RotateWebhookSecretParams{ID: e.ID, Secret: secret})
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Conflict("endpoint_disabled", "the endpoint is disabled: register it again")
		}
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "webhook_endpoint.rotate_secret", "webhook_endpoint", e.ID, "", nil); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: WebhookEndpointView{WebhookEndpoint: rotated, Secret: secret,
			Note: "deliveries are now signed with this secret and the previous one (two v1 signatures) until the next rotation"}}, nil
	})
}
