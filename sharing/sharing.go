// Package sharing is the minimal-disclosure layer between orders and the
// recipients: recipient policies, the projection of an order onto what a
// recipient may see, the transactional outbox, the dispatcher that delivers
// signed webhooks with retries, and replay.
package sharing

import (
	"context"
	"net/http"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/store"
)

// LegalBasis is recorded with every disclosure: the recipients need the
// contact and address to deliver the goods the customer ordered.
const LegalBasis = "GDPR Art. 6(1)(f)"

// Event types sent to recipients.
const (
	EventOrderCreated   = "order.created"
	EventOrderCancelled = "order.cancelled"
	EventOrderErased    = "order.erased"
)

// Status is where a delivery stands.
type Status string

// Delivery states. A pending delivery is retried on the schedule; a dead one
// waits for an operator's replay.
const (
	StatusPending   Status = "pending"
	StatusDelivered Status = "delivered"
	StatusDead      Status = "dead"
)

// Delivery is one webhook message to one recipient. Its ID is the
// webhook-id header, unchanged across retries and replays.
type Delivery struct {
	ID            string     `json:"id"`
	PartnerID     string     `json:"partner_id"`
	OrderID       string     `json:"order_id,omitempty"`
	EventType     string     `json:"event_type"`
	PayloadSHA256 string     `json:"payload_sha256"`
	Fields        string     `json:"fields"`
	Status        Status     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	DeadAt        *time.Time `json:"dead_at,omitempty"`
	LastStatus    *int       `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// Errors returned by this package.
var (
	ErrDeliveryNotFound = api.New(http.StatusNotFound, "delivery_not_found", "no such delivery")
	ErrPayloadErased    = api.New(http.StatusConflict, "payload_erased", "the delivery's payload was erased with its order's personal data: there is nothing to send again")
)

func record(ctx context.Context, a audit.Recorder, tx *store.Tx, actor, action string, subjects, details map[string]string) error {
	if a == nil {
		return nil
	}
	return a.Record(ctx, tx, actor, action, subjects, details)
}
