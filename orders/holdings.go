package orders

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Holding is what a breach's impact counts of one order: whose it is (the
// keyed hashes, never the values), where it goes, and whether its data was
// erased here and at a recipient, relative to the breach window. It holds
// no personal value.
type Holding struct {
	OrderID string
	// Person is a 64-bit fingerprint of the order's keyed email hash, or
	// of its phone hash where it has no email: orders with the same are
	// one person's (a chance collision among a million persons is about
	// one in 30 million). 0 where it holds neither: erased.
	Person uint64
	// Country is the delivery country's ISO code; "" where unknown (taken
	// before the service kept it, or erased).
	Country string
	// Erased is when the order's personal data was erased here; Acked
	// when the recipient asked about (partnerID) acknowledged its own
	// erasure.
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
	var acks map[string]Moment
	if partnerID != "" {
		var err error
		if acks, err = s.rows().acks(ctx, partnerID, from); err != nil {
			return fmt.Errorf("holdings: %w", err)
		}
	}
	err := s.rows().holdings(ctx, from, to, func(h Holding) error {
		h.Acked = acks[h.OrderID]
		return fn(h)
	})
	if err != nil {
		return fmt.Errorf("holdings: %w", err)
	}
	return nil
}

// fingerprint is the first 8 bytes of a keyed hash, which are as random
// as the rest; 0 for none.
func fingerprint(h []byte) uint64 {
	if len(h) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(h) | 1
}
