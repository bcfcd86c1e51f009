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

// Users sign in to the portal by e-mail (api/portal_signin.go). An admin adds
// staff and partner users here; a partner's first user is the address its
// application gave, and a partner user can invite colleagues from the portal.

type UserRequest struct {
	Email     string `json:"email" validate:"required,max=254"`
	Name      string `json:"name" validate:"max=200"`
	Role      string `json:"role" validate:"required,oneof=admin manager finance partner"`
	PartnerID string `json:"partner_id" validate:"omitempty,uuid"`
}

// CreateUser adds a portal user; an address that has one already is a 409.
func CreateUser(ctx context.Context, q *db.Queries, email, name, role string, partnerID uuid.NullUUID, invitedBy uuid.NullUUID) (db.User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return db.User{}, domain.Invalid("email", "invalid", "%s", err.Error())
	}
	if (role == domain.RolePartner) != partnerID.Valid {
		return db.User{}, domain.Invalid("partner_id", "invalid", "a partner user needs partner_id, and only a partner user may have one")
	}
	if partnerID.Valid {
		if _, err := q.GetPartner(ctx, partnerID.UUID); errors.Is(err, pgx.ErrNoRows) {
			return db.User{}, domain.Invalid("partner_id", "unknown_partner", "no partner with that id")
		} else if err != nil {
			return db.User{}, err
		}
	}
	u, err := q.CreateUser(ctx, db.CreateUserParams{ID: uuid.Must(uuid.NewV7()), Email: email, Name: name, Role: role, PartnerID: partnerID, InvitedBy: invitedBy})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, domain.Conflict("user_exists", "%s already has an account", email)
	}
	return u, err
}

func (s *Server) createUser(c *gin.Context) {
	var req UserRequest
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
		u, err := CreateUser(ctx, q, req.Email, req.Name, req.Role, partnerID, uuid.NullUUID{})
		if err != nil {
			return answer{}, err
		}
		if err := audit(ctx, c, q, "user.create", "user", u.ID, "", gin.H{"role": u.Role, "email": u.Email, "partner_id": u.PartnerID}); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: u}, nil
	})
}

func (s *Server) listUsers(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.ListUsers(c.Request.Context(), db.ListUsersParams{Lim: limit, After: after})
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(u db.User) uuid.UUID { return u.ID }))
}

// disableUser stops a user: no sign-in, and its sessions end at once. It stays
// in the audit log's actors; disabling twice changes nothing.
func (s *Server) disableUser(c *gin.Context) {
	id, err := pathID(c, "user")
	if err != nil {
		s.abort(c, err)
		return
	}
	var u db.User
	err = s.store.InTx(c.Request.Context(), func(q *db.Queries) error {
		var err error
		if u, err = q.DisableUser(c.Request.Context(), id); errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("user")
		} else if err != nil {
			return err
		}
		return audit(c.Request.Context(), c, q, "user.disable", "user", u.ID, "", gin.H{"email": u.Email})
	})
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}
