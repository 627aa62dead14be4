package api

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 1 << 20

// ReadJSONBody returns the request body after checking that it is declared
// as JSON (415 otherwise) and no larger than MaxBody (413 otherwise).
func ReadJSONBody(c *gin.Context) ([]byte, error) {
	ct := c.GetHeader("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, New(http.StatusUnsupportedMediaType, "unsupported_media_type", "the request body must be application/json")
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		return nil, New(http.StatusUnsupportedMediaType, "unsupported_media_type", "the request body must be UTF-8 encoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, New(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 1 MiB")
		}
		return nil, New(http.StatusBadRequest, "unreadable_body", "the request body could not be read")
	}
	return body, nil
}
