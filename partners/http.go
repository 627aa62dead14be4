package partners

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
)

// ResellerAPI lets a reseller register a webhook endpoint for its own
// orders' status changes.
type ResellerAPI struct{ Store *Store }

// Register mounts the routes on r, which must authenticate reseller keys.
func (a *ResellerAPI) Register(r gin.IRoutes) {
	r.PUT("/v1/webhook-endpoint", a.put)
	r.GET("/v1/webhook-endpoint", a.get)
	r.DELETE("/v1/webhook-endpoint", a.delete)
}

type endpointBody struct {
	URL string `json:"url"`
}

func (a *ResellerAPI) put(c *gin.Context) {
	p := PrincipalOf(c)
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	var in endpointBody
	if err := api.Decode(body, &in); err != nil {
		api.Abort(c, err)
		return
	}
	if in.URL == "" {
		api.Abort(c, api.Invalid([]api.FieldError{{Pointer: "/url", Code: "required", Detail: "an https URL is required"}}))
		return
	}
	secret, err := a.Store.RegisterEndpoint(c.Request.Context(), p.Actor(), p.PartnerID, in.URL)
	if err != nil {
		if e, ok := err.(*api.Error); ok && e.Code == "invalid_endpoint" {
			api.Abort(c, api.Invalid([]api.FieldError{{Pointer: "/url", Code: e.Code, Detail: e.Detail}}))
			return
		}
		api.Abort(c, err)
		return
	}
	out := gin.H{"url": in.URL}
	if secret != "" {
		out["secret"] = secret
	}
	c.JSON(http.StatusOK, out)
}

func (a *ResellerAPI) get(c *gin.Context) {
	p, err := a.Store.Get(c.Request.Context(), PrincipalOf(c).PartnerID)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"url": p.EndpointURL, "enabled": p.Enabled})
}

func (a *ResellerAPI) delete(c *gin.Context) {
	p := PrincipalOf(c)
	if _, err := a.Store.RegisterEndpoint(c.Request.Context(), p.Actor(), p.PartnerID, ""); err != nil {
		api.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
