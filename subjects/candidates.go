package subjects

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
)

// Candidates (Art. 12(6), 15(4)): a request names a person by the
// identifiers it was given, and any one of them can be shared (a household
// phone, a company switchboard). So a lookup returns every order matching
// any identifier as a candidate, and the request covers only those
// included: automatically where the order agrees with every identifier
// the request gives and the order holds, and the candidates do not
// disagree among themselves; by the DPO's decision otherwise. Everything
// a request does acts on included orders only.

// assess works out each candidate's automatic state from the identifiers
// of the request (eh, ph, hashed with lookup key version) and of the
// orders; a DPO's decision stands. Hashes made with two lookup keys cannot
// be compared (during a rotation of the key): they neither agree nor
// differ. An order a new-order restriction holds waits for review.
func assess(eh, ph []byte, version uint32, cands []Order) {
	given := 0
	for _, h := range [][]byte{eh, ph} {
		if len(h) > 0 {
			given++
		}
	}
	// With a single identifier, orders that share it but hold different
	// values of the other identifier may be two people.
	split := ""
	if given == 1 {
		other, name, by := func(o Order) []byte { return o.PhoneHash }, "phone", "email"
		if len(ph) > 0 {
			other, name, by = func(o Order) []byte { return o.EmailHash }, "email", "phone"
		}
		var seen [][]byte
		for _, o := range cands {
			if o.State == StateExcluded && o.DecidedBy != "" {
				continue
			}
			if h := other(o); len(h) > 0 && o.LookupVersion == version && !slices.ContainsFunc(seen, func(s []byte) bool { return bytes.Equal(s, h) }) {
				seen = append(seen, h)
			}
		}
		if len(seen) > 1 {
			split = fmt.Sprintf("orders with this %s hold %d different %ss", by, len(seen), name)
		}
	}
	for i := range cands {
		o := &cands[i]
		if o.DecidedBy != "" {
			continue
		}
		var differs []string
		comparable := o.LookupVersion == version
		if comparable && len(eh) > 0 && len(o.EmailHash) > 0 && !bytes.Equal(eh, o.EmailHash) {
			differs = append(differs, "email differs")
		}
		if comparable && len(ph) > 0 && len(o.PhoneHash) > 0 && !bytes.Equal(ph, o.PhoneHash) {
			differs = append(differs, "phone differs")
		}
		switch {
		case len(differs) > 0:
			o.State, o.Reason = StateNeedsReview, strings.Join(differs, ", ")
		case o.Restriction == sharing.KindNewOrder:
			o.State, o.Reason = StateNeedsReview, "a new order held by the restriction"
		case split != "":
			o.State, o.Reason = StateNeedsReview, split
		default:
			o.State, o.Reason = StateIncluded, ""
		}
	}
}

// matchedOn names the request's identifiers an order holds now, by any of
// the request's hashes of them.
func matchedOn(ehs, phs [][]byte, o orders.SubjectOrder) []string {
	out := []string{}
	has := func(hs [][]byte, h []byte) bool {
		return len(h) > 0 && slices.ContainsFunc(hs, func(x []byte) bool { return bytes.Equal(x, h) })
	}
	if has(ehs, o.EmailHash) {
		out = append(out, "email")
	}
	if has(phs, o.PhoneHash) {
		out = append(out, "phone")
	}
	return out
}

// emailHashes and phoneHashes are what the request's lookup matches: its
// hashes under every lookup key held when it was logged, or its stored one.
func (r *Request) emailHashes() [][]byte { return hashesOf(r.alsoEmail, r.emailHash) }
func (r *Request) phoneHashes() [][]byte { return hashesOf(r.alsoPhone, r.phoneHash) }

func hashesOf(also [][]byte, stored []byte) [][]byte {
	if len(also) > 0 {
		return also
	}
	if len(stored) == 0 {
		return nil
	}
	return [][]byte{stored}
}

// candidates returns every candidate of r through q (nil: the read pool):
// the orders found when it was logged, those its identifiers find now,
// and those its restriction holds, oldest first, each assessed.
func (s *Service) candidates(ctx context.Context, q sqlx.QueryerContext, r *Request) ([]Order, error) {
	if q == nil {
		q = s.DB.Reader
	}
	found, err := s.Orders.FindSubject(ctx, q, r.emailHashes(), r.phoneHashes())
	if err != nil {
		return nil, err
	}
	kept, err := s.storedCandidates(ctx, q, r.ID)
	if err != nil {
		return nil, err
	}
	restricted, err := s.Sharing.RestrictedBy(ctx, q, r.ID)
	if err != nil {
		return nil, err
	}
	byID := map[string]orders.SubjectOrder{}
	for _, o := range found {
		byID[o.OrderID] = o
	}
	var missing []string
	for id := range kept {
		if _, ok := byID[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range restricted {
		if _, ok := byID[id]; !ok && kept[id] == nil {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	more, err := s.Orders.SubjectOrders(ctx, q, missing)
	if err != nil {
		return nil, err
	}
	for _, o := range more {
		byID[o.OrderID] = o
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	held, err := s.Holds.Among(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Order, 0, len(ids))
	for _, id := range ids {
		o := Order{SubjectOrder: byID[id], Held: held[id], Restriction: restricted[id]}
		if k := kept[id]; k != nil {
			o.persisted, o.MatchedOn = true, k.MatchedOn
			if k.Decision != "" {
				o.State, o.Reason, o.DecidedBy = k.Decision, k.Reason, k.DecidedBy
				at := k.DecidedAt.Time
				o.DecidedAt = &at
			}
		} else {
			o.MatchedOn = matchedOn(r.emailHashes(), r.phoneHashes(), o.SubjectOrder)
		}
		out = append(out, o)
	}
	assess(r.emailHash, r.phoneHash, r.lookupVersion, out)
	return out, nil
}

// included returns the candidates a request covers.
func included(cands []Order) []Order {
	out := []Order{}
	for _, o := range cands {
		if o.State == StateIncluded {
			out = append(out, o)
		}
	}
	return out
}

// settle writes down, inside tx, the candidates of r not yet kept, and the
// inclusion of the automatically included ones that action acts on: an
// order acted on stays covered, whatever later orders or rectifications
// change. It returns the included orders.
func (s *Service) settle(ctx context.Context, tx *store.Tx, actor string, r *Request, cands []Order, action Action) ([]Order, error) {
	now := s.Clock.Now()
	for i := range cands {
		o := &cands[i]
		if !o.persisted {
			if err := s.rows().keepCandidate(ctx, tx, r.ID, o.OrderID, o.MatchedOn, now); err != nil {
				return nil, fmt.Errorf("keep candidate: %w", err)
			}
			o.persisted = true
		}
		if action != "" && o.State == StateIncluded && o.DecidedBy == "" {
			reason := "matched every identifier; acted on by " + string(action)
			if err := s.rows().decide(ctx, tx, decideParams{RequestID: r.ID, OrderID: o.OrderID, Decision: StateIncluded,
				Reason: reason, Actor: actor, At: now}); err != nil {
				return nil, fmt.Errorf("settle candidate: %w", err)
			}
			o.Reason, o.DecidedBy = reason, actor
		}
	}
	return included(cands), nil
}

// Decision is the DPO's decision on candidate orders of a request.
type Decision struct {
	Include []string `json:"include"`
	Exclude []string `json:"exclude"`
	// Reason is why; it stays with the request (its steps), never in the
	// audit trail, since it may name the person.
	Reason string `json:"reason"`
}

// ParseDecision decodes the body of POST /v1/subject-requests/{id}/orders;
// Decide validates it.
func ParseDecision(body []byte) (Decision, error) {
	var d Decision
	err := api.Decode(body, &d)
	return d, err
}

func (d Decision) problems() []api.FieldError {
	var bad []api.FieldError
	if len(d.Include)+len(d.Exclude) == 0 {
		bad = append(bad, api.FieldError{Pointer: "/include", Code: "required", Detail: "name at least one order to include or exclude"})
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		name string
		ids  []string
	}{{"include", d.Include}, {"exclude", d.Exclude}} {
		for i, id := range list.ids {
			if seen[id] {
				bad = append(bad, api.FieldError{Pointer: fmt.Sprintf("/%s/%d", list.name, i), Code: "duplicate", Detail: "names an order twice"})
			}
			seen[id] = true
		}
	}
	return append(bad, checkReason(d.Reason, "/reason")...)
}

// checkReason validates a reason the DPO gives: required, one paragraph.
func checkReason(reason, pointer string) []api.FieldError {
	r := strings.TrimSpace(reason)
	if r == "" {
		return []api.FieldError{{Pointer: pointer, Code: "required", Detail: "give the reason"}}
	}
	return api.TextField(pointer, r, 2000)
}

// Decide includes and excludes candidate orders of an open request. An
// order included while the request's restriction is in force is
// restricted too; an excluded one is released from it. It fails with a
// 422 problem naming every order that is not a candidate.
func (s *Service) Decide(ctx context.Context, actor, id string, d Decision) (*Request, error) {
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.openRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		cands, err := s.candidates(ctx, tx, r)
		if err != nil {
			return err
		}
		bad := d.problems()
		for _, list := range []struct {
			name string
			ids  []string
		}{{"include", d.Include}, {"exclude", d.Exclude}} {
			for i, oid := range list.ids {
				if !slices.ContainsFunc(cands, func(o Order) bool { return o.OrderID == oid }) {
					bad = append(bad, api.FieldError{Pointer: fmt.Sprintf("/%s/%d", list.name, i), Code: "not_a_candidate",
						Detail: "is not one of this request's candidate orders"})
				}
			}
		}
		if len(bad) > 0 {
			return api.Invalid(bad)
		}
		if _, err := s.settle(ctx, tx, actor, r, cands, ""); err != nil {
			return err
		}
		now := s.Clock.Now()
		reason := strings.TrimSpace(d.Reason)
		for _, step := range []struct {
			state string
			ids   []string
		}{{StateIncluded, d.Include}, {StateExcluded, d.Exclude}} {
			for _, oid := range step.ids {
				if err := s.rows().decide(ctx, tx, decideParams{RequestID: r.ID, OrderID: oid, Decision: step.state,
					Reason: reason, Actor: actor, At: now}); err != nil {
					return fmt.Errorf("decide candidate: %w", err)
				}
			}
			if err := s.recordOrders(ctx, tx, actor, "subject.order_"+step.state, r.ID, step.ids, nil); err != nil {
				return err
			}
		}
		notices := 0
		// The request's restriction is in force while it binds the person
		// (even with no order included yet: a phone-only objection).
		bound, err := s.Sharing.BindingHashes(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		restricting := len(bound) > 0
		if restricting && len(d.Include) > 0 {
			n, err := s.Sharing.Restrict(ctx, tx, actor, r.ID, sharing.KindRestriction, nil, d.Include)
			if err != nil {
				return err
			}
			notices += n
		}
		if len(d.Exclude) > 0 {
			n, err := s.Sharing.LiftOrders(ctx, tx, actor, r.ID, d.Exclude)
			if err != nil {
				return err
			}
			notices += n
		}
		return s.addStep(ctx, tx, r.ID, actor, "orders_decided", map[string]any{"include": nonNil(d.Include),
			"exclude": nonNil(d.Exclude), "reason": reason, "notices": notices})
	})
	if err != nil {
		return nil, fmt.Errorf("decide orders: %w", err)
	}
	s.Sharing.Kick()
	return s.Get(ctx, id)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// notices fills in, for the erased candidates, the erasure notices sent to
// each recipient and whether it answered.
func (s *Service) notices(ctx context.Context, cands []Order) error {
	var erased []string
	for _, o := range cands {
		if o.Erased {
			erased = append(erased, o.OrderID)
		}
	}
	if len(erased) == 0 {
		return nil
	}
	ns, err := s.Disclosures.Notices(ctx, nil, erased)
	if err != nil {
		return err
	}
	acks, err := s.Orders.ErasureAcks(ctx, erased)
	if err != nil {
		return err
	}
	byOrder := map[string][]NoticeState{}
	for _, n := range ns {
		st := NoticeState{PartnerID: n.PartnerID, SentAt: n.SentAt, Status: string(n.Status), Reminders: n.Reminders}
		if at, ok := acks[n.OrderID][n.PartnerID]; ok {
			a := at
			st.Acknowledged = &a
		}
		byOrder[n.OrderID] = append(byOrder[n.OrderID], st)
	}
	for i := range cands {
		cands[i].Notices = byOrder[cands[i].OrderID]
	}
	return nil
}

// keptCandidate is a candidate as the request keeps it.
type keptCandidate struct {
	MatchedOn []string
	Decision  string
	Reason    string
	DecidedBy string
	DecidedAt store.Time
}
