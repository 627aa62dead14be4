package orders

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/store"
)

var (
	webhookIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	partnerIDPattern = regexp.MustCompile(`^ptn_[a-z0-9_]{1,60}$`)
)

// CallbackAPI serves POST /v1/callbacks/{partner_id}: recipients report
// progress, signed with their own secret under Standard Webhooks.
type CallbackAPI struct {
	Service *Service
	// Verify checks the request's signature with the partner's secrets
	// and a 5-minute timestamp window; cmd supplies it from partners.
	Verify func(ctx context.Context, partnerID string, h http.Header, body []byte) error
	// Logger receives why a signature was refused; the caller is told
	// only that it was.
	Logger *slog.Logger
}

// errSignature is the one answer to every refused signature, whether the
// partner id is unknown, a reseller's or a recipient's, and whether the
// signature is missing, stale or wrong: byte for byte the same (no
// instance, which would repeat the id), so ids cannot be probed.
var errSignature = api.New(http.StatusUnauthorized, "invalid_signature",
	"the request must carry a valid, current Standard Webhooks signature by this partner's secret")

// Register mounts the callback route on r. It needs no API key: the
// signature is the authentication.
func (a *CallbackAPI) Register(r gin.IRoutes) {
	r.POST("/v1/callbacks/:partner_id", a.callback)
}

func (a *CallbackAPI) callback(c *gin.Context) {
	ctx := c.Request.Context()
	partnerID := c.Param("partner_id")
	body, err := api.ReadJSONBody(c)
	if err != nil {
		api.Abort(c, err)
		return
	}
	if err := a.Verify(ctx, partnerID, c.Request.Header, body); err != nil {
		var pe *api.Error
		if errors.As(err, &pe) {
			api.Abort(c, pe)
			return
		}
		if a.Logger != nil {
			// The id is logged only if it has the shape of ours.
			attrs := []any{"reason", err.Error(), "request_id", c.GetString("request_id")}
			if partnerIDPattern.MatchString(partnerID) {
				attrs = append(attrs, "partner_id", partnerID)
			}
			a.Logger.WarnContext(ctx, "callback signature refused", attrs...)
		}
		c.Header("WWW-Authenticate", `Standard-Webhooks realm="husky"`)
		c.Header("Content-Type", api.ContentType)
		c.AbortWithStatusJSON(errSignature.Status, api.From(errSignature))
		return
	}
	// The webhook-id is the partner's dedup key and is recorded in the
	// timeline and audit trail: it must be a token, not free text.
	webhookID := c.GetHeader("webhook-id")
	if !webhookIDPattern.MatchString(webhookID) {
		api.Abort(c, api.New(http.StatusBadRequest, "invalid_webhook_id", "webhook-id must be 1 to 128 of A-Z, a-z, 0-9 and _ . : -"))
		return
	}
	cb, err := DecodeCallback(body)
	if err != nil {
		if rerr := a.Service.RefuseCallback(ctx, partnerID, webhookID, "invalid"); rerr != nil {
			api.Abort(c, rerr)
			return
		}
		api.Abort(c, err)
		return
	}
	res, err := a.Service.ApplyCallback(ctx, partnerID, webhookID, cb)
	if err != nil {
		api.Abort(c, err)
		return
	}
	ct := "application/json"
	if res.Status >= 400 {
		ct = api.ContentType
	}
	c.Set("order_id", cb.OrderID)
	c.Data(res.Status, ct, res.Body)
}

// RefuseCallback records in the audit trail a signed callback that could
// not be parsed (an unknown event type, invalid fields).
func (s *Service) RefuseCallback(ctx context.Context, partnerID, webhookID, why string) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, "partner:"+partnerID, "callback.refused", map[string]string{"partner_id": partnerID},
			map[string]string{"callback_id": webhookID, "outcome": why})
	})
}
