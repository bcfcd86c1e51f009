package api

import (
	"encoding/binary"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// listMyNotifications: what the processes told the calling partner (deal
// protection expiring, a won report not confirmed, more MDF proof wanted…),
// newest first.
func (s *Server) listMyNotifications(c *gin.Context) {
	me := caller(c).PartnerID.String()
	s.listNotificationsFor(c, &me)
}

// listNotifications: staff read every notification, or one recipient's
// (?recipient=manager, finance, admin or a partner id).
func (s *Server) listNotifications(c *gin.Context) {
	var recipient *string
	if r := c.Query("recipient"); r != "" {
		if _, err := uuid.Parse(r); err != nil && r != domain.RoleManager && r != domain.RoleFinance && r != domain.RoleAdmin {
			s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "recipient is manager, finance, admin or a partner id", "recipient"))
			return
		}
		recipient = &r
	}
	s.listNotificationsFor(c, recipient)
}

func (s *Server) listNotificationsFor(c *gin.Context, recipient *string) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListNotificationsParams{Recipient: recipient, Lim: limit}
	if after.Valid { // the cursor carries the last id of the previous page
		params.Before = pgtype.Int8{Int64: int64(binary.BigEndian.Uint64(after.UUID[8:])), Valid: true}
	}
	rows, err := s.store.ListNotifications(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(n db.Notification) uuid.UUID {
		var cursor uuid.UUID
		binary.BigEndian.PutUint64(cursor[8:], uint64(n.ID))
		return cursor
	}))
}
