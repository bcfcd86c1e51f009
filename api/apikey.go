package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

type CreateKeyRequest struct {
	Role      string `json:"role" validate:"required,oneof=admin manager finance partner integration"`
	PartnerID string `json:"partner_id" validate:"omitempty,uuid"`
	Label     string `json:"label" validate:"max=100"`
}

type KeyView struct {
	ID        uuid.UUID     `json:"id"`
	Prefix    string        `json:"prefix"`
	Role      string        `json:"role"`
	PartnerID uuid.NullUUID `json:"partner_id"`
	Label     string        `json:"label"`
	Key       string        `json:"key,omitempty"` // the secret, in the creating answer only
	Note      string        `json:"note,omitempty"`
}

// CreateKey makes an API key and returns it; only its hash is stored. It is the
// one place keys are made: the API, the approval and `partnerops keys create`.
func CreateKey(ctx context.Context, q *db.Queries, role string, partnerID uuid.NullUUID, label string) (KeyView, error) {
	if !domain.ValidRole(role) {
		return KeyView{}, domain.Invalid("role", "invalid", "unknown role %q", role)
	}
	if (role == domain.RolePartner) != partnerID.Valid {
		return KeyView{}, domain.Invalid("partner_id", "invalid", "a partner key needs partner_id, and only a partner key may have one")
	}
	if partnerID.Valid {
		if _, err := q.GetPartner(ctx, partnerID.UUID); errors.Is(err, pgx.ErrNoRows) {
			return KeyView{}, domain.Invalid("partner_id", "unknown_partner", "no partner with that id")
		} else if err != nil {
			return KeyView{}, err
		}
	}
	key, prefix, hash := domain.NewAPIKey(role)
	row, err := q.CreateAPIKey(ctx, db.CreateAPIKeyParams{ID: uuid.Must(uuid.NewV7()), Prefix: prefix, SecretHash: hash, Role: role, PartnerID: partnerID, Label: label})
	if err != nil {
		return KeyView{}, err
	}
	return KeyView{ID: row.ID, Prefix: row.Prefix, Role: row.Role, PartnerID: row.PartnerID, Label: row.Label, Key: key}, nil
}

// CreatePendingPartnerKey makes a partner's first key, inactive until the
// approval that names it is recorded (see the partner workflow).
func CreatePendingPartnerKey(ctx context.Context, q *db.Queries, partnerID uuid.UUID) (KeyView, error) {
	key, prefix, hash := domain.NewAPIKey(domain.RolePartner)
	row, err := q.CreatePendingAPIKey(ctx, db.CreatePendingAPIKeyParams{ID: uuid.Must(uuid.NewV7()), Prefix: prefix, SecretHash: hash,
		PartnerID: uuid.NullUUID{UUID: partnerID, Valid: true}, Label: "first key"})
	if err != nil {
		return KeyView{}, err
	}
	return KeyView{ID: row.ID, Prefix: row.Prefix, Role: row.Role, PartnerID: row.PartnerID, Label: row.Label, Key: key}, nil
}

func (s *Server) createKey(c *gin.Context) {
	var req CreateKeyRequest
	body, err := s.readJSON(c, &req)
	if err != nil {
		s.abort(c, err)
		return
	}
	var partnerID uuid.NullUUID
	if req.PartnerID != "" {
		partnerID = uuid.NullUUID{UUID: uuid.MustParse(req.PartnerID), Valid: true}
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		k, err := CreateKey(ctx, q, req.Role, partnerID, req.Label)
		if err != nil {
			return answer{}, err
		}
		stored := k
		stored.Key, stored.Note = "", "the key was shown once in the first answer; create another if it was lost"
		k.Note = "store this key now: it is shown only once"
		if err := audit(ctx, c, q, "api_key.create", "api_key", k.ID, req.Label, gin.H{"role": k.Role, "prefix": k.Prefix, "partner_id": k.PartnerID}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: k, Stored: stored}, nil
	})
}

func (s *Server) revokeKey(c *gin.Context) {
	id, err := pathID(c, "API key")
	if err != nil {
		s.abort(c, err)
		return
	}
	ctx := c.Request.Context()
	var n int64
	err = s.store.InTx(ctx, func(q *db.Queries) error {
		var err error
		if n, err = q.RevokeAPIKey(ctx, id); err != nil || n == 0 {
			return err
		}
		return audit(ctx, c, q, "api_key.revoke", "api_key", id, "", nil)
	})
	if k, gerr := s.store.GetAPIKey(ctx, id); gerr == nil {
		s.keys.forget(k.Prefix) // at once in this process; other API processes within 10 s
	}
	if err == nil && n == 0 {
		if _, gerr := s.store.GetAPIKey(c.Request.Context(), id); errors.Is(gerr, pgx.ErrNoRows) {
			err = domain.NotFound("API key")
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
