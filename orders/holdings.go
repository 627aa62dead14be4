package orders

import (
	"context"
	"fmt"
	"time"
)

// Holding is what a breach's impact counts of one order: whose it is (the
// keyed hashes, never the values), where it goes, and whether its data was
// erased here and at a recipient, relative to the breach window. It holds
// no personal value.
type Holding struct {
	OrderID              string
	EmailHash, PhoneHash []byte
	// Country is the delivery country's ISO code; "" where unknown (taken
	// before the service kept it, or erased).
	Country string
	// Erased is when the order's personal data was erased here; Acked
	// when the recipient asked about (partnerID) acknowledged its own erasure.
	Erased, Acked Moment
}

// Moment places an erasure relative to a breach window's start.
type Moment uint8

const (
	// NotYet: not erased (or not acknowledged) by now.
	NotYet Moment = iota
	// Since: at or after the window's start.
	Since
	// Before: before the window's start.
	Before
)

// Holdings calls fn with every order taken at or before to: its person
// hashes, its country, when it was erased here and when the recipient
// partnerID acknowledged erasing it (NotYet for partnerID ""), relative to
// from. It streams: a million orders cost one query and no list.
func (s *Service) Holdings(ctx context.Context, partnerID string, from, to time.Time, fn func(Holding) error) error {
	if err := s.rows().holdings(ctx, partnerID, from, to, fn); err != nil {
		return fmt.Errorf("holdings: %w", err)
	}
	return nil
}
