package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// Legal holds keep an order's personal data past its retention: a held
// order is never erased, by a purge or a subject's request, until the hold
// is released. Retention owns the legal_holds table; the reason is free
// text that may name people, so it is sealed with the order's data key and
// the audit trail records only its SHA-256.

// ErrHoldReason is returned for an empty or over-long legal hold reason.
var ErrHoldReason = api.New(http.StatusUnprocessableEntity, "invalid_reason",
	"a legal hold needs a reason of 1 to 500 characters, without control, invisible or bidirectional formatting characters")

// ErrErased is returned for a hold on an order whose data is already gone.
var ErrErased = api.New(http.StatusConflict, "order_erased", "the order's personal data is already erased; there is nothing to hold")

// aadReason binds a sealed reason to what it is. It keeps the name the
// column had in orders, so reasons sealed before holds moved here open.
const aadReason = "orders.legal_hold_reason"

// Hold is an order's legal hold.
type Hold struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Holds places, releases and reads legal holds.
type Holds struct {
	DB     *store.DB
	Orders *orders.Service
	Vault  *vault.Vault
	Audit  *audit.Log
	Clock  base.Clock
}

// HoldView is what an operator sees of an order's hold: no personal data
// of the customer.
type HoldView struct {
	OrderID    string     `json:"order_id"`
	Status     string     `json:"status"`
	LegalHold  *Hold      `json:"legal_hold"`
	PurgeAfter *time.Time `json:"purge_after,omitempty"`
}

// rows is the hold table's statements.
func (h *Holds) rows() holdRows { return holdRows{db: h.DB} }

// Place puts an order under legal hold (or replaces its reason).
func (h *Holds) Place(ctx context.Context, actor, orderID, reason string) (HoldView, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 || api.CheckText(reason, true) != "" {
		return HoldView{}, ErrHoldReason
	}
	sum := sha256.Sum256([]byte(reason))
	return h.change(ctx, actor, orderID, "order.hold_placed", map[string]string{"reason_sha256": hex.EncodeToString(sum[:])},
		func(tx *store.Tx, o *orders.Order) error {
			sealed := []byte(reason)
			if k := o.DataKey(); k != nil {
				sealed = k.SealString(reason, aadReason)
			}
			return h.rows().put(ctx, tx, orderID, sealed, h.Clock.Now())
		})
}

// Release lifts an order's legal hold.
func (h *Holds) Release(ctx context.Context, actor, orderID string) (HoldView, error) {
	return h.change(ctx, actor, orderID, "order.hold_released", nil, func(tx *store.Tx, _ *orders.Order) error {
		return h.rows().remove(ctx, tx, orderID)
	})
}

func (h *Holds) change(ctx context.Context, actor, orderID, action string, details map[string]string,
	fn func(tx *store.Tx, o *orders.Order) error) (HoldView, error) {
	var out HoldView
	err := h.DB.Tx(ctx, func(tx *store.Tx) error {
		o, err := h.Orders.GetTx(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if o.ErasedAt != nil {
			return ErrErased
		}
		if err := fn(tx, o); err != nil {
			return fmt.Errorf("legal hold: %w", err)
		}
		if err := h.Audit.Record(ctx, tx, actor, action, map[string]string{"order_id": orderID}, details); err != nil {
			return err
		}
		hold, err := h.get(ctx, tx, o)
		out = HoldView{OrderID: o.ID, Status: string(o.Status), LegalHold: hold, PurgeAfter: o.PurgeAfter}
		return err
	})
	return out, err
}

// Get returns an order's legal hold, or nil.
func (h *Holds) Get(ctx context.Context, orderID string) (*Hold, error) {
	o, err := h.Orders.GetTx(ctx, h.DB.Reader, orderID)
	if err != nil {
		return nil, err
	}
	return h.get(ctx, h.DB.Reader, o)
}

func (h *Holds) get(ctx context.Context, q sqlx.QueryerContext, o *orders.Order) (*Hold, error) {
	row, ok, err := h.rows().get(ctx, q, o.ID)
	if !ok || err != nil {
		return nil, err
	}
	reason := row.Reason
	if k := o.DataKey(); k != nil {
		if reason, err = k.Open(row.Reason, aadReason); err != nil {
			return nil, err
		}
	}
	return &Hold{Reason: string(reason), Since: row.PlacedAt.Time}, nil
}

// Among returns which of the given orders are under legal hold, through q
// (the caller's transaction, so that a purge or an erasure sees holds
// placed up to its own commit).
func (h *Holds) Among(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) (map[string]bool, error) {
	return h.rows().among(ctx, q, orderIDs)
}

// Held returns the ids of every order under legal hold.
func (h *Holds) Held(ctx context.Context) ([]string, error) {
	return h.rows().held(ctx)
}

// SealPlaintext seals the reasons of holds placed before the vault, once
// their orders have data keys (orders.Service.SealPlaintext runs first).
func (h *Holds) SealPlaintext(ctx context.Context) (int, error) {
	if h.Vault == nil {
		return 0, nil
	}
	rows, err := h.rows().reasons(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = h.DB.Tx(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			if vault.IsSealed(r.Reason) {
				continue
			}
			k, err := h.Vault.Get(ctx, tx, r.OrderID)
			if errors.Is(err, vault.ErrNoKey) {
				continue
			}
			if err != nil {
				return err
			}
			if err := h.rows().setReason(ctx, tx, r.OrderID, k.Seal(r.Reason, aadReason)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
