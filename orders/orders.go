// Package orders owns Husky orders: their types, validation, storage, the
// reseller API and the order lifecycle.
package orders

import (
	"context"
	"net/http"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Status is where an order stands in its lifecycle.
type Status string

// The lifecycle states. Delivered, cancelled and rejected are final: the
// time an order reaches one is what retention counts from.
const (
	StatusReceived  Status = "received"
	StatusShared    Status = "shared"
	StatusAccepted  Status = "accepted"
	StatusShipped   Status = "shipped"
	StatusDelivered Status = "delivered"
	StatusCancelled Status = "cancelled"
	StatusRejected  Status = "rejected"
)

// Statuses lists every state, in lifecycle order.
var Statuses = []Status{StatusReceived, StatusShared, StatusAccepted, StatusShipped, StatusDelivered, StatusCancelled, StatusRejected}

// Final reports whether s is a final state.
func (s Status) Final() bool {
	return s == StatusDelivered || s == StatusCancelled || s == StatusRejected
}

// Valid reports whether s names a state.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if s == x {
			return true
		}
	}
	return false
}

// Customer is the contact person. Every field is personal data.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// Address is the delivery address. Every line is personal data.
type Address struct {
	Organization string `json:"organization"`
	Line1        string `json:"line1"`
	Line2        string `json:"line2"`
	City         string `json:"city"`
	PostalCode   string `json:"postal_code"`
	Region       string `json:"region"`
	Country      string `json:"country"`
}

// Item is one order line: non-personal.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Draft is a validated order request, not yet stored.
type Draft struct {
	Reference string   `json:"reference"`
	Customer  Customer `json:"customer"`
	ShipTo    Address  `json:"ship_to"`
	Items     []Item   `json:"items"`
	Notes     string   `json:"notes"`
}

// Order is a stored order.
type Order struct {
	ID         string     `json:"id"`
	ResellerID string     `json:"reseller_id"`
	Reference  string     `json:"reference"`
	Status     Status     `json:"status"`
	Customer   Customer   `json:"customer"`
	ShipTo     Address    `json:"ship_to"`
	Items      []Item     `json:"items"`
	Notes      string     `json:"notes"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	ErasedAt   *time.Time `json:"erased_at,omitempty"`
	// FiscalYear and PurgeAfter are worked out from ClosedAt and the
	// fiscal calendar in force, once the order reaches a final state: its
	// personal data is erased at PurgeAfter (unless under a legal hold,
	// which is retention's).
	FiscalYear *int       `json:"fiscal_year,omitempty"`
	PurgeAfter *time.Time `json:"purge_after,omitempty"`
	// CloseReason is why an operator closed the order (`husky orders
	// close`); empty when the lifecycle closed it. Operators only.
	CloseReason string `json:"-"`
	// EmailHash and PhoneHash are keyed hashes of the normalised contact
	// (see Service.Hash), the index a data-subject request finds the
	// person's orders by; nil once the order is erased.
	EmailHash, PhoneHash []byte `json:"-"`
	// LookupVersion is the lookup key they were made with; LookupHashes,
	// while older lookup keys are held, the email's and phone's hashes
	// under every one (a restriction may have been made under any).
	LookupVersion uint32   `json:"-"`
	LookupHashes  [][]byte `json:"-"`
	// Recipients holds each recipient's latest answer; Shipments the
	// tracking they reported.
	Recipients []Answer   `json:"recipients"`
	Shipments  []Shipment `json:"shipments"`

	key *vault.Key // the order's data key; see DataKey
}

// CatalogItem is an orderable SKU.
type CatalogItem struct {
	SKU  string `json:"sku" db:"sku"`
	Name string `json:"name" db:"name"`
}

// ChangeKind says what happened to an order.
type ChangeKind string

// The kinds of change that hooks see.
const (
	ChangeCreated   ChangeKind = "created"
	ChangeCancelled ChangeKind = "cancelled"
	// ChangeStatus is any other transition (shared, accepted, shipped,
	// delivered, rejected).
	ChangeStatus ChangeKind = "status"
	// ChangeImported is a historic order brought in by `husky orders
	// import`; DisclosedTo names the recipients the earlier system shared
	// it with. No webhook is sent.
	ChangeImported ChangeKind = "imported"
	// ChangeRectified is a correction of the order's personal data
	// (GDPR Art. 16); Changed names the fields whose values changed.
	ChangeRectified ChangeKind = "rectified"
)

// Change is one change to an order, seen by hooks inside its transaction.
type Change struct {
	Kind        ChangeKind
	Order       *Order
	From        Status
	Actor       string
	DisclosedTo []string
	// Changed names the personal fields a rectification changed:
	// "name", "email", "phone", "address".
	Changed []string
}

// Hook runs inside the transaction that changes an order, so that what it
// writes (the sharing outbox) commits or rolls back with the order. An
// error aborts the change.
type Hook interface {
	OrderChanged(ctx context.Context, tx *store.Tx, ch Change) error
}

// Errors returned by this package.
var (
	ErrNotFound         = api.New(http.StatusNotFound, "order_not_found", "no such order")
	ErrIdempotencyReuse = api.New(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
	ErrNotCancellable   = api.New(http.StatusConflict, "not_cancellable", "the order has shipped or reached a final state and can no longer be cancelled")
)

// duplicateReference is the 409 for a reference the reseller already used.
func duplicateReference(id string) error {
	e := api.New(http.StatusConflict, "duplicate_reference", "an order with this reference already exists")
	e.Location = "/v1/orders/" + id
	return e
}
