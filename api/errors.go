package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"

	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
)

// ErrorBody is the one error shape every endpoint answers with.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RecordID names the existing record a conflict is about (e.g. the open deal a
	// second registration repeats).
	RecordID string `json:"record_id,omitempty"`
	// RequestID ties the answer to the server's log lines and audit events.
	RequestID string `json:"request_id,omitempty"`
}

var kindStatus = map[domain.Kind]int{
	domain.KindInvalid:   http.StatusUnprocessableEntity,
	domain.KindConflict:  http.StatusConflict,
	domain.KindNotFound:  http.StatusNotFound,
	domain.KindForbidden: http.StatusForbidden,
}

// httpError is an error that already knows its status (bad JSON, auth, limits).
type httpError struct {
	status int
	detail ErrorDetail
}

func (e *httpError) Error() string { return e.detail.Message }

func newHTTPError(status int, code, message, field string) *httpError {
	return &httpError{status: status, detail: ErrorDetail{Code: code, Message: message, Field: field}}
}

// abort maps any error to its status and the error shape, in one place. Anything
// unrecognised is a 500 and is logged; bad input must never get here.
func (s *Server) abort(c *gin.Context, err error) {
	status, detail := s.classify(err)
	if status >= 500 {
		s.logger.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err, "request_id", requestID(c))
	}
	detail.RequestID = requestID(c)
	if status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "2")
	}
	if status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Bearer realm="partnerops"`)
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: detail})
}

func (s *Server) classify(err error) (int, ErrorDetail) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.detail
	}
	if de, ok := domain.AsError(err); ok {
		return kindStatus[de.Kind], ErrorDetail{Code: de.Code, Message: de.Message, Field: de.Field}
	}
	if de, ok := workflows.DomainError(err); ok {
		return kindStatus[de.Kind], ErrorDetail{Code: de.Code, Message: de.Message, Field: de.Field}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return http.StatusNotFound, ErrorDetail{Code: "not_found", Message: "no such workflow"}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, ErrorDetail{Code: "timeout", Message: "the request took too long; retry it with the same Idempotency-Key"}
	}
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) {
		return http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable", Message: "the workflow service is unavailable; retry later"}
	}
	if transientDB(err) {
		return http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable", Message: "the database is unavailable for a moment; retry with the same Idempotency-Key"}
	}
	return http.StatusInternalServerError, ErrorDetail{Code: "internal", Message: "internal error"}
}

// transientDB reports a database error that a retry may not meet: a lost,
// refused or terminated connection, a server shutting down or out of
// connections, a serialization failure or deadlock. Its transaction rolled back,
// so the client's retry (with its Idempotency-Key) is safe.
func transientDB(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // admin, crash shutdown, cannot connect now
			pgErr.Code == "53300",                        // too many connections
			pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
