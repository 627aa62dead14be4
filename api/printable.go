package api

import (
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// WantsHTML says whether the client asked for a page (Accept: text/html).
func WantsHTML(c *gin.Context) bool { return strings.Contains(c.GetHeader("Accept"), "text/html") }

// Printable answers with a printable page that write renders, under its
// own Content-Security-Policy (its one inline stylesheet, no script).
func Printable(c *gin.Context, csp string, write func(io.Writer) error) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Content-Security-Policy", csp)
	c.Status(http.StatusOK)
	_ = write(c.Writer)
}
