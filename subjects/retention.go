package subjects

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/store"
)

// Records about requests are personal data too: a completed request, its
// steps and its identifier hashes are kept for RequestRetention after it
// completed (the Danish limitation period, 3 years, by default), then
// deleted by the purge. A request that still binds a restriction, still
// has an erasure scheduled, or covers an order under a legal hold is
// kept.

// DefaultRequestRetention is how long a completed request's records are
// kept by default: the Danish limitation period of 3 years.
const DefaultRequestRetention = 3

// RequestsDueAsOf returns the completed requests whose records are due for
// deletion as of asOf, and how many past their retention are kept.
func (s *Service) RequestsDueAsOf(ctx context.Context, asOf time.Time) (retention.RequestsDue, error) {
	out := retention.RequestsDue{RetentionYears: s.requestYears(), Due: []string{}}
	ids, err := s.rows().completedBefore(ctx, s.DB.Reader, asOf.AddDate(-out.RetentionYears, 0, 0), 1_000_000)
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		keep, err := s.stillNeeded(ctx, s.DB.Reader, id)
		if err != nil {
			return out, err
		}
		if keep {
			out.Kept++
		} else {
			out.Due = append(out.Due, id)
		}
	}
	return out, nil
}

// stillNeeded reports whether a completed request's records must stay:
// it still restricts sharing, has an erasure waiting for an order to
// close, or covers an order under a legal hold.
func (s *Service) stillNeeded(ctx context.Context, q sqlx.QueryerContext, id string) (bool, error) {
	if n, err := s.rows().erasuresOf(ctx, q, id); err != nil || n > 0 {
		return n > 0, err
	}
	if s.Sharing != nil {
		if r, err := s.Sharing.RestrictedBy(ctx, q, id); err != nil || len(r) > 0 {
			return len(r) > 0, err
		}
		if h, err := s.Sharing.BindingHashes(ctx, q, id); err != nil || len(h) > 0 {
			return len(h) > 0, err
		}
	}
	cands, err := s.rows().candidates(ctx, q, id)
	if err != nil || len(cands) == 0 || s.Holds == nil {
		return false, err
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.OrderID
	}
	held, err := s.Holds.Among(ctx, q, ids)
	return len(held) > 0, err
}

// DeleteRecords deletes the records of the requests ids (RequestsDueAsOf's
// Due), each checked again in its own transaction, and records each
// deletion in the audit trail (ids only). It returns how many it deleted.
func (s *Service) DeleteRecords(ctx context.Context, actor string, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		err := s.DB.Tx(ctx, func(tx *store.Tx) error {
			if keep, err := s.stillNeeded(ctx, tx, id); err != nil || keep {
				return err
			}
			gone, err := s.rows().deleteRequest(ctx, tx, id)
			if err != nil || !gone {
				return err
			}
			n++
			return s.Audit.Record(ctx, tx, actor, "subject_request.deleted", map[string]string{"request_id": id},
				map[string]string{"reason": fmt.Sprintf("completed more than %d years ago", s.requestYears())})
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Service) requestYears() int {
	if s.RequestRetention <= 0 {
		return DefaultRequestRetention
	}
	return s.RequestRetention
}
