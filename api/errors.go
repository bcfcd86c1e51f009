package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
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
	return http.StatusInternalServerError, ErrorDetail{Code: "internal", Message: "internal error"}
}
