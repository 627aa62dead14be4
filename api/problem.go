// Package api holds the conventions every HTTP endpoint shares: RFC 9457
// problem details (the domain error that carries an HTTP status, and the one
// function that turns any error into a response), request body limits and
// pagination.
package api

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// ContentType is the media type of every error response.
const ContentType = "application/problem+json"

// FieldError is one invalid field of a request. Pointer is an RFC 6901 JSON
// pointer into the request body ("/customer/email"); Detail never repeats the
// submitted value, which may be personal data.
type FieldError struct {
	Pointer string `json:"pointer,omitempty"`
	// Parameter names an invalid query parameter instead of a body field.
	Parameter string `json:"parameter,omitempty"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
}

// Details is an RFC 9457 problem details document.
type Details struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// ErrorsOmitted counts the field errors beyond the first MaxFieldErrors.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
	// Location names an existing resource, as for a duplicate reference.
	Location string `json:"location,omitempty"`
	// Allowed lists what is allowed where the problem is something that
	// is not (the actions a subject request allows).
	Allowed []string `json:"allowed,omitempty"`
}

// Error is a domain error with the HTTP status it maps to. Code is a short
// stable word that becomes the problem type ("validation", "not_found").
type Error struct {
	Status   int
	Code     string
	Title    string
	Detail   string
	Fields   []FieldError
	Omitted  int // field errors left out beyond MaxFieldErrors
	Location string
	Allowed  []string
}

// Error returns the code and detail; it never holds submitted values.
func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Code + ": " + e.Detail
	}
	return e.Code
}

// New returns an Error with the given status, code and detail; the title is
// the status text.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Title: http.StatusText(status), Detail: fmt.Sprintf(format, args...)}
}

// MaxFieldErrors bounds the field errors one answer lists, so that a body
// of 50,000 unknown fields cannot make a 4 MB answer.
const MaxFieldErrors = 100

// Invalid returns a 422 validation error listing every bad field, in
// pointer order, the first MaxFieldErrors of them with a count of the rest.
func Invalid(fields []FieldError) *Error {
	fields = slices.Clone(fields)
	slices.SortStableFunc(fields, func(a, b FieldError) int {
		return cmp.Or(strings.Compare(a.Pointer, b.Pointer), strings.Compare(a.Parameter, b.Parameter))
	})
	e := &Error{Status: http.StatusUnprocessableEntity, Code: "validation", Title: "Invalid request",
		Detail: fmt.Sprintf("%d field(s) are invalid", len(fields)), Fields: fields}
	if len(fields) > MaxFieldErrors {
		e.Omitted, e.Fields = len(fields)-MaxFieldErrors, fields[:MaxFieldErrors]
		e.Detail += fmt.Sprintf("; the first %d are listed", MaxFieldErrors)
	}
	return e
}

// Common errors shared by every package.
var (
	ErrNotFound     = &Error{Status: http.StatusNotFound, Code: "not_found", Title: "Not Found", Detail: "no such resource"}
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Title: "Unauthorized", Detail: "a valid API key is required"}
	ErrForbidden    = &Error{Status: http.StatusForbidden, Code: "forbidden", Title: "Forbidden", Detail: "this API key's role may not use this endpoint"}
)

// TypeBase prefixes every problem type URI.
const TypeBase = "https://husky.milestone.dev/problems/"

// From converts any error into problem details. An error that is not an
// *Error becomes a generic 500 so that no driver or internal message leaks.
func From(err error) Details {
	var e *Error
	if errors.As(err, &e) {
		return Details{Type: TypeBase + e.Code, Title: e.Title, Status: e.Status, Detail: e.Detail,
			Errors: e.Fields, ErrorsOmitted: e.Omitted, Location: e.Location, Allowed: e.Allowed}
	}
	return Details{Type: TypeBase + "internal", Title: "Internal Server Error", Status: http.StatusInternalServerError,
		Detail: "the server could not complete the request; it has been logged"}
}

// Abort writes err as problem+json and stops the handler chain. Unknown
// errors are logged with the request id; their text never reaches the client.
func Abort(c *gin.Context, err error) {
	d := From(err)
	d.Instance = c.Request.URL.Path
	if d.Status == http.StatusInternalServerError {
		if l, ok := c.Get("logger"); ok {
			if lg, ok := l.(*slog.Logger); ok {
				lg.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(), "request_id", c.GetString("request_id"))
			}
		}
		_ = c.Error(err)
	}
	if d.Location != "" {
		c.Header("Location", d.Location)
	}
	c.Header("Content-Type", ContentType)
	c.AbortWithStatusJSON(d.Status, d)
}
