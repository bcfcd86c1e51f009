package api

import (
	"context"
	"encoding/binary"
	"net/http"
	"regexp"
	"slices"

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

// NotificationPreferences: which notifications a partner does not want by
// e-mail (kinds without their sequence number, e.g. deal_won_rejected,
// certification_expiring); every other one is mailed to the partner's address.
type NotificationPreferences struct {
	Email      string   `json:"email"`
	EmailMuted []string `json:"email_muted"`
}

type NotificationPreferencesRequest struct {
	EmailMuted []string `json:"email_muted" validate:"required,max=50"`
}

var muteKeyRe = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)

func (s *Server) getNotificationPreferences(c *gin.Context) {
	p, err := s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, NotificationPreferences{Email: p.Email, EmailMuted: p.EmailMuted})
}

func (s *Server) setNotificationPreferences(c *gin.Context) {
	var req NotificationPreferencesRequest
	body, err := s.readJSON(c, &req)
	for _, k := range req.EmailMuted {
		if err == nil && !muteKeyRe.MatchString(k) {
			err = domain.Invalid("email_muted", "invalid", "%q is not a notification kind (lower case and underscores, such as deal_won_rejected)", k)
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	muted := slices.Compact(slices.Sorted(slices.Values(req.EmailMuted)))
	if muted == nil {
		muted = []string{}
	}
	id := caller(c).PartnerID
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		if err := q.SetEmailMuted(ctx, db.SetEmailMutedParams{ID: id, Muted: muted}); err != nil {
			return answer{}, err
		}
		p, err := q.GetPartner(ctx, id)
		return answer{Status: http.StatusOK, Body: NotificationPreferences{Email: p.Email, EmailMuted: p.EmailMuted}}, err
	})
}
