package api

import (
	"context"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// auditEvent is one decision in the audit log: who did what to which record, with
// what outcome, under which request. Temporal's history is each process's own
// record; this log spans them all and is kept as long as the database is.
type auditEvent struct {
	Actor      string
	Action     string // <record>.<verb>: deal.approve, payout.mark-paid, api_key.create, program.update_deals
	RecordType string
	RecordID   uuid.UUID
	Outcome    string // applied, refused, pending
	Reason     string
	Detail     any
	RequestID  string
}

func (e auditEvent) params() db.RecordAuditEventParams {
	detail := json.RawMessage(`{}`)
	if e.Detail != nil {
		if b, err := json.Marshal(e.Detail); err == nil {
			detail = b
		}
	}
	return db.RecordAuditEventParams{ID: uuid.Must(uuid.NewV7()), Actor: e.Actor, Action: e.Action, RecordType: e.RecordType,
		RecordID: e.RecordID, Outcome: e.Outcome, Reason: e.Reason, Detail: detail, RequestID: e.RequestID}
}

// audit records an applied change made by the request (in the caller's
// transaction, so the event exists exactly when the change does).
func audit(ctx context.Context, c *gin.Context, q *db.Queries, action, recordType string, id uuid.UUID, reason string, detail any) error {
	return q.RecordAuditEvent(ctx, auditEvent{Actor: caller(c).Actor(), Action: action, RecordType: recordType, RecordID: id,
		Outcome: "applied", Reason: reason, Detail: detail, RequestID: requestID(c)}.params())
}

// listAudit answers the audit log, newest first, filtered by record, actor or action.
func (s *Server) listAudit(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListAuditEventsParams{Lim: limit, After: after, RecordType: queryString(c, "record_type"),
		Actor: queryString(c, "actor"), Action: queryString(c, "action")}
	if params.RecordID, err = queryUUID(c, "record_id"); err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.ListAuditEvents(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(e db.AuditEvent) uuid.UUID { return e.ID }))
}

const requestIDKey = "partnerops.request_id"

// RequestIDHeader ties an answer to its log lines and audit events.
const RequestIDHeader = "X-Request-Id"

// withRequestID takes the caller's X-Request-Id (if it is short printable text) or
// makes one, answers it, and keeps it for logs, errors and audit events.
func withRequestID(c *gin.Context) {
	id := c.GetHeader(RequestIDHeader)
	if id == "" || len(id) > 128 || !printableASCII(id) {
		id = uuid.NewString()
	}
	c.Set(requestIDKey, id)
	c.Header(RequestIDHeader, id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cleanText reports whether s is valid UTF-8 without NUL bytes: what PostgreSQL
// text columns accept.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}
