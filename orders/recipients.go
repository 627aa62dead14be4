package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

// Answer is a recipient's latest answer about an order, kept beside the
// order's own state (as commerce platforms keep each fulfiller's answer
// apart from the order).
type Answer struct {
	PartnerID          string     `json:"partner_id"`
	Status             Status     `json:"status,omitempty"`
	EstimatedShipDate  string     `json:"estimated_ship_date,omitempty"`
	ReasonCode         string     `json:"reason_code,omitempty"`
	Message            string     `json:"message,omitempty"`
	DeliveredAt        *time.Time `json:"delivered_at,omitempty"`
	ErasureConfirmedAt *time.Time `json:"erasure_confirmed_at,omitempty"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// Shipment is a recipient's report that the goods left, with tracking.
type Shipment struct {
	PartnerID      string `json:"partner_id"`
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
	TrackingURL    string `json:"tracking_url,omitempty"`
}

type answerRow struct {
	OrderID     string     `db:"order_id"`
	PartnerID   string     `db:"partner_id"`
	Status      *string    `db:"status"`
	ShipDate    *string    `db:"estimated_ship_date"`
	ReasonCode  *string    `db:"reason_code"`
	Message     *string    `db:"message"`
	Carrier     *string    `db:"carrier"`
	Tracking    *string    `db:"tracking_number"`
	TrackingURL *string    `db:"tracking_url"`
	DeliveredAt store.Time `db:"delivered_at"`
	ErasedAt    store.Time `db:"erasure_confirmed_at"`
	UpdatedAt   store.Time `db:"updated_at"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func optTime(t store.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// loadAnswers fills each order's recipient answers and shipments.
func (s *Service) loadAnswers(ctx context.Context, q sqlx.QueryerContext, os []*Order) error {
	if len(os) == 0 {
		return nil
	}
	byID := make(map[string]*Order, len(os))
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i], byID[o.ID] = o.ID, o
		o.Recipients, o.Shipments = []Answer{}, []Shipment{}
	}
	rows, err := s.rows().answers(ctx, q, ids)
	if err != nil {
		return fmt.Errorf("load recipient answers: %w", err)
	}
	for _, r := range rows {
		o := byID[r.OrderID]
		op := &opener{k: o.key}
		o.Recipients = append(o.Recipients, Answer{PartnerID: r.PartnerID, Status: Status(deref(r.Status)),
			EstimatedShipDate: deref(r.ShipDate), ReasonCode: deref(r.ReasonCode),
			Message:     deref(op.opt(r.Message, answerAAD(aadMessage, r.PartnerID))),
			DeliveredAt: optTime(r.DeliveredAt), ErasureConfirmedAt: optTime(r.ErasedAt), UpdatedAt: r.UpdatedAt.Time})
		if r.Carrier != nil || r.Tracking != nil {
			o.Shipments = append(o.Shipments, Shipment{PartnerID: r.PartnerID, Carrier: deref(op.opt(r.Carrier, answerAAD(aadCarrier, r.PartnerID))),
				TrackingNumber: deref(op.opt(r.Tracking, answerAAD(aadTracking, r.PartnerID))),
				TrackingURL:    deref(op.opt(r.TrackingURL, answerAAD(aadTrackingURL, r.PartnerID)))})
		}
		if op.err != nil {
			return errOpen(o.ID, op.err)
		}
	}
	return nil
}
