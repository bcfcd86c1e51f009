// Package domain holds partnerops' pure business rules: functions over values with
// no database, no Temporal and no clock (the time is passed in). Table tests live
// beside each file.
package domain

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error. The API maps each kind to one HTTP status, and
// workflows use the same strings as Temporal ApplicationError types so a rejected
// Update maps the same way.
type Kind string

const (
	KindInvalid   Kind = "invalid"   // 422: the request is well-formed but breaks a rule
	KindConflict  Kind = "conflict"  // 409: the resource is not in a state that allows it
	KindNotFound  Kind = "not_found" // 404
	KindForbidden Kind = "forbidden" // 403: allowed role, but not for this record or state
)

// Error is a domain error that tests can match with errors.As and the API can map.
type Error struct {
	Kind    Kind
	Code    string // machine-readable, e.g. "already_decided"
	Message string
	Field   string // the offending input field, if any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func Invalid(field, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func Conflict(code, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: what + " not found"}
}

func Forbidden(code, format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the domain error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var de *Error
	ok := errors.As(err, &de)
	return de, ok
}
