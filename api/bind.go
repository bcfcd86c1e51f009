package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}()

// readBody reads the request body, capped by the server's body limit.
func (s *Server) readBody(c *gin.Context) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, newHTTPError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body may be at most %d bytes", s.cfg.MaxBodyBytes), "")
	}
	if err != nil {
		return nil, newHTTPError(http.StatusBadRequest, "unreadable_body", "could not read the request body", "")
	}
	// JSON is UTF-8; Go's decoder would silently turn invalid bytes into U+FFFD.
	if !utf8.Valid(body) {
		return nil, newHTTPError(http.StatusBadRequest, "invalid_utf8", "the body is not valid UTF-8", "")
	}
	return body, nil
}

// decode parses one JSON object strictly (unknown fields are rejected: no mass
// assignment) and validates it against its struct tags.
func decode(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return newHTTPError(http.StatusBadRequest, "invalid_json", "the body must be a single JSON object", "")
	}
	if err := checkValues(reflect.ValueOf(dst), ""); err != nil {
		return err
	}
	if err := validate.Struct(dst); err != nil {
		var ves validator.ValidationErrors
		if errors.As(err, &ves) && len(ves) > 0 {
			return validationError(ves[0])
		}
		return newHTTPError(http.StatusUnprocessableEntity, "invalid", err.Error(), "")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return newHTTPError(http.StatusUnprocessableEntity, "wrong_type", fmt.Sprintf("%s must be a %s", typeErr.Field, jsonKind(typeErr.Type)), typeErr.Field)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return newHTTPError(http.StatusBadRequest, "invalid_json", "the body is not valid JSON", "")
	case errors.Is(err, io.EOF):
		return newHTTPError(http.StatusBadRequest, "invalid_json", "the body is empty; send a JSON object", "")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return newHTTPError(http.StatusUnprocessableEntity, "unknown_field", fmt.Sprintf("unknown field %q", field), field)
	default:
		return newHTTPError(http.StatusBadRequest, "invalid_json", "the body is not a valid JSON object: "+err.Error(), "")
	}
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list"
	case reflect.Struct:
		if t == reflect.TypeFor[decimal.Decimal]() {
			return `decimal amount such as "12.50"`
		}
		return "JSON object"
	default:
		return "JSON object"
	}
}

func validationError(fe validator.FieldError) error {
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok { // drop the struct name
		field = rest
	}
	var msg string
	switch fe.Tag() {
	case "required":
		msg = field + " is required"
	case "max":
		msg = fmt.Sprintf("%s must be at most %s", field, fe.Param())
	case "min":
		msg = fmt.Sprintf("%s must be at least %s", field, fe.Param())
	case "oneof":
		msg = fmt.Sprintf("%s must be one of: %s", field, strings.ReplaceAll(fe.Param(), " ", ", "))
	case "email":
		msg = field + " must be an e-mail address"
	case "uuid":
		msg = field + " must be a UUID"
	case "datetime":
		msg = fmt.Sprintf("%s must be a date like %s", field, fe.Param())
	default:
		msg = fmt.Sprintf("%s is invalid (%s)", field, fe.Tag())
	}
	return newHTTPError(http.StatusUnprocessableEntity, "invalid", msg, field)
}

// readJSON reads the body and decodes it strictly into dst; the raw body is kept
// for the Idempotency-Key's request hash.
func (s *Server) readJSON(c *gin.Context, dst any) ([]byte, error) {
	body, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	return body, decode(body, dst)
}

// readOptionalJSON is readJSON for a body that may be left out (an action whose
// fields are all optional): an empty body decodes as {}.
func (s *Server) readOptionalJSON(c *gin.Context, dst any) ([]byte, error) {
	body, err := s.readBody(c)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return body, err
	}
	return body, decode(body, dst)
}

// checkValues walks a decoded request and refuses what no column could hold:
// text with a NUL byte or invalid UTF-8 (PostgreSQL refuses both), and amounts
// beyond their column's precision and scale. path names the field for the error.
func checkValues(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkValues(v.Elem(), path)
	case reflect.String:
		if !cleanText(v.String()) {
			return newHTTPError(http.StatusUnprocessableEntity, "invalid_text", path+" holds a NUL byte or invalid UTF-8", path)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 { // raw bytes (json.RawMessage) are checked as JSON already
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkValues(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if err := checkValues(iter.Key(), path); err != nil {
				return err
			}
			if err := checkValues(iter.Value(), path+"."+fmt.Sprint(iter.Key().Interface())); err != nil {
				return err
			}
		}
	case reflect.Struct:
		switch v.Type() {
		case amountType:
			return checkBound(v.Interface().(Amount).Decimal, moneyBound, path)
		case rateType:
			return checkBound(v.Interface().(Rate).Decimal, rateBound, path)
		case decimalType, timeType:
			return nil
		}
		for _, f := range checkedFields(v.Type()) {
			name := f.name
			if path != "" && name != "" {
				name = path + "." + name
			} else if name == "" {
				name = path
			}
			if err := checkValues(v.Field(f.index), name); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	amountType  = reflect.TypeFor[Amount]()
	rateType    = reflect.TypeFor[Rate]()
	decimalType = reflect.TypeFor[decimal.Decimal]()
	timeType    = reflect.TypeFor[time.Time]()
)

// checkedField is a struct field checkValues walks: exported, with its JSON
// name ("" for an embedded struct, whose fields are its parent's).
type checkedField struct {
	index int
	name  string
}

// checkedFieldsOf caches each request type's fields: reading struct tags on
// every request cost more than the checks.
var checkedFieldsOf sync.Map // reflect.Type → []checkedField

func checkedFields(t reflect.Type) []checkedField {
	if fs, ok := checkedFieldsOf.Load(t); ok {
		return fs.([]checkedField)
	}
	var fs []checkedField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.Anonymous {
			name = ""
		}
		fs = append(fs, checkedField{index: i, name: name})
	}
	checkedFieldsOf.Store(t, fs)
	return fs
}

// bound is a numeric column's reach: below 10^digits in absolute value, at most
// scale decimals.
type bound struct {
	limit decimal.Decimal
	scale int32
	what  string
}

var (
	// Every money column is numeric(14, 2).
	moneyBound = bound{limit: decimal.New(1, 12), scale: 2, what: "an amount"}
	// Every rate, margin and probability column is numeric(7, 4).
	rateBound = bound{limit: decimal.New(1, 3), scale: 4, what: "a rate"}
)

func checkBound(d decimal.Decimal, b bound, field string) error {
	if d.Abs().GreaterThanOrEqual(b.limit) {
		return newHTTPError(http.StatusUnprocessableEntity, "out_of_range",
			fmt.Sprintf("%s is out of range: %s must be less than %s in absolute value", field, b.what, b.limit.String()), field)
	}
	if !d.Equal(d.Round(b.scale)) {
		return newHTTPError(http.StatusUnprocessableEntity, "too_precise",
			fmt.Sprintf("%s has too many decimals: %s has at most %d", field, b.what, b.scale), field)
	}
	return nil
}

// queryUUID reads an optional UUID query parameter; a malformed one is a 400.
func queryUUID(c *gin.Context, name string) (uuid.NullUUID, error) {
	v := c.Query(name)
	if v == "" {
		return uuid.NullUUID{}, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.NullUUID{}, newHTTPError(http.StatusBadRequest, "invalid", name+" must be a UUID", name)
	}
	return uuid.NullUUID{UUID: id, Valid: true}, nil
}

// queryString reads an optional query parameter as a nil-able filter.
func queryString(c *gin.Context, name string) *string {
	if v := c.Query(name); v != "" {
		return &v
	}
	return nil
}

// pathID parses the :id path parameter; a malformed one is simply not found.
func pathID(c *gin.Context, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, newHTTPError(http.StatusNotFound, "not_found", what+" not found", "")
	}
	return id, nil
}

// Page is one page of a cursor-paginated list: has_more tells whether another
// page follows (next_cursor reads it).
type Page[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageParams reads ?limit= and ?cursor= (an opaque token from next_cursor). The
// limit it returns is what to fetch: one row more than the page, so page() knows
// whether another page follows.
func (s *Server) pageParams(c *gin.Context) (limit int32, after uuid.NullUUID, err error) {
	limit = 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxPageSize {
			return 0, after, newHTTPError(http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit must be a whole number from 1 to %d", s.cfg.MaxPageSize), "limit")
		}
		limit = int32(n)
	}
	if v := c.Query("cursor"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		id, err2 := uuid.FromBytes(raw)
		if err != nil || err2 != nil {
			return 0, after, newHTTPError(http.StatusBadRequest, "invalid_cursor", "cursor must be a next_cursor value from an earlier page", "cursor")
		}
		after = uuid.NullUUID{UUID: id, Valid: true}
	}
	return limit + 1, after, nil
}

// page builds the answer from rows fetched with pageParams' limit (one more than
// the page): the extra row only says that another page follows.
func page[T any](items []T, fetched int32, id func(T) uuid.UUID) Page[T] {
	p := Page[T]{Data: items}
	if size := int(fetched) - 1; size > 0 && len(items) > size {
		p.Data, p.HasMore = items[:size], true
		last := id(items[size-1])
		p.NextCursor = base64.RawURLEncoding.EncodeToString(last[:])
	}
	return p
}

// Amount is a decimal in a request body ("12.50" or 12.50). A malformed one is
// a 422 that names its field, like any other wrong type.
type Amount struct{ decimal.Decimal }

func (a *Amount) UnmarshalJSON(b []byte) error { return decodeDecimal(&a.Decimal, b) }

// decodeDecimal reads "12.50" or 12.50; a malformed one is a wrong-type error
// that names its field, like any other.
func decodeDecimal(d *decimal.Decimal, b []byte) error {
	if err := d.UnmarshalJSON(b); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[decimal.Decimal]()}
	}
	return nil
}

// dec returns the decimal inside an optional Amount.
func (a *Amount) dec() *decimal.Decimal {
	if a == nil {
		return nil
	}
	return &a.Decimal
}

// Rate is a fraction in a request body (a commission rate, a margin, a stage's
// probability: "0.18" is 18 %), bounded like its numeric(7, 4) columns.
type Rate struct{ decimal.Decimal }

func (r *Rate) UnmarshalJSON(b []byte) error { return decodeDecimal(&r.Decimal, b) }

func (r *Rate) dec() *decimal.Decimal {
	if r == nil {
		return nil
	}
	return &r.Decimal
}

var domainOne = decimal.NewFromInt(1)
