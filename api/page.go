package api

import (
	"encoding/base64"
	"strconv"

	"github.com/gin-gonic/gin"
)

// Page is a list response.
type Page[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// PageParams reads ?limit= (1–100, default 20) and ?cursor=, reporting
// every bad parameter.
func PageParams(c *gin.Context) (limit int, after string, err error) {
	var bad []FieldError
	limit = 20
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			bad = append(bad, FieldError{Parameter: "limit", Code: "out_of_range", Detail: "must be an integer from 1 to 100"})
		}
		limit = n
	}
	if s := c.Query("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 || len(b) > 64 {
			bad = append(bad, FieldError{Parameter: "cursor", Code: "invalid_cursor", Detail: "is not a cursor this API returned"})
		}
		after = string(b)
	}
	if len(bad) > 0 {
		return 0, "", Invalid(bad)
	}
	return limit, after, nil
}

// Cursor encodes an id as an opaque cursor.
func Cursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
