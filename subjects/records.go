package subjects

// A request's rows read into its types, and its steps written.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/store"
)

func (r requestRow) request() *Request {
	out := &Request{ID: r.ID, Type: Type(r.Type), Status: Status(r.Status), ReceivedAt: r.ReceivedAt.Time, DueAt: r.DueAt.Time,
		Actor: r.Actor, emailHash: r.EmailHash, phoneHash: r.PhoneHash, extendedAt: r.ExtendedAt.Time, lookupVersion: r.Lookup}
	if r.ExtReason != nil {
		out.extensionReason = *r.ExtReason
	}
	if !r.CompletedAt.IsZero() {
		t := r.CompletedAt.Time
		out.CompletedAt = &t
	}
	return out
}

func (s *Service) getRequest(ctx context.Context, q sqlx.QueryerContext, id string) (*Request, error) {
	r, ok, err := s.rows().get(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("get subject request: %w", err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return r.request(), nil
}

// addStep appends a step with its result (encoded as JSON) to a request.
func (s *Service) addStep(ctx context.Context, tx *store.Tx, requestID, actor, action string, result any) error {
	b := []byte("{}")
	if result != nil {
		var err error
		if b, err = json.Marshal(result); err != nil {
			return fmt.Errorf("encode step: %w", err)
		}
	}
	if err := s.rows().addStep(ctx, tx, stepParams{RequestID: requestID, Time: s.Clock.Now(), Actor: actor, Action: action,
		Details: string(b)}); err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	return nil
}

func (s *Service) steps(ctx context.Context, q sqlx.QueryerContext, requestID string) ([]Step, error) {
	rows, err := s.rows().steps(ctx, q, requestID)
	if err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	out := make([]Step, len(rows))
	for i, r := range rows {
		out[i] = Step{Seq: r.Seq, Time: r.Time.Time, Actor: r.Actor, Action: r.Action}
		var res any
		if json.Unmarshal([]byte(r.Details), &res) == nil {
			if m, ok := res.(map[string]any); !ok || len(m) > 0 {
				out[i].Result = res
			}
		}
	}
	return out, nil
}

// storedCandidates returns the candidates a request keeps, by order id.
func (s *Service) storedCandidates(ctx context.Context, q sqlx.QueryerContext, requestID string) (map[string]*keptCandidate, error) {
	rows, err := s.rows().candidates(ctx, q, requestID)
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	out := make(map[string]*keptCandidate, len(rows))
	for _, r := range rows {
		k := &keptCandidate{MatchedOn: []string{}, Decision: r.Decision, Reason: r.Reason, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt}
		if r.MatchedOn != "" {
			k.MatchedOn = strings.Split(r.MatchedOn, ",")
		}
		out[r.OrderID] = k
	}
	return out, nil
}

// TranslateHashes follows a re-hash of orders under lookup key version
// (orders.Rehash): an open request whose every stored hash was made again
// takes the new ones. One whose identifier is on no live order keeps its
// hash under the old key (it matched nothing; its candidates are kept).
func (s *Service) TranslateHashes(ctx context.Context, tx *store.Tx, changed map[string][]byte, version uint32) error {
	rows, err := s.rows().toRehash(ctx, tx, version)
	if err != nil {
		return fmt.Errorf("requests to re-hash: %w", err)
	}
	for _, r := range rows {
		eh, eok := translate(changed, r.EmailHash)
		ph, pok := translate(changed, r.PhoneHash)
		if !eok || !pok {
			continue
		}
		if err := s.rows().rehash(ctx, tx, r.ID, eh, ph, version); err != nil {
			return fmt.Errorf("re-hash request: %w", err)
		}
	}
	return nil
}

// translate returns the new hash of old (none for none), and whether it
// had one.
func translate(changed map[string][]byte, old []byte) ([]byte, bool) {
	if len(old) == 0 {
		return nil, true
	}
	h, ok := changed[hex.EncodeToString(old)]
	return h, ok
}

// LookupVersions returns the lookup key versions open requests' hashes
// were made with.
func (s *Service) LookupVersions(ctx context.Context) (map[uint32]bool, error) {
	vs, err := s.rows().lookupVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("request lookup versions: %w", err)
	}
	out := map[uint32]bool{}
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}
