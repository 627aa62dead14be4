package partners

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

const principalKey = "principal"

// Authenticator is gin middleware that resolves the request's API key.
type Authenticator struct{ Store *Store }

// Require admits a request whose "Authorization: Bearer <key>" names a live
// key with one of roles. A missing, malformed, unknown or revoked key gets
// 401; a key of another role gets 403.
func (a Authenticator) Require(roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, ok := bearer(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="husky"`)
			api.Abort(c, api.ErrUnauthorized)
			return
		}
		p, err := a.Store.Authenticate(c.Request.Context(), key)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="husky"`)
			api.Abort(c, err)
			return
		}
		if !slices.Contains(roles, p.Role) {
			api.Abort(c, api.ErrForbidden)
			return
		}
		c.Set(principalKey, p)
		c.Set("key_id", p.KeyID)
		c.Next()
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" header;
// the scheme is matched case-insensitively (RFC 9110, 11.1).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// PrincipalOf returns the principal Require stored on the request.
func PrincipalOf(c *gin.Context) Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(Principal)
	return pr
}
