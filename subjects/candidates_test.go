package subjects

import (
	"testing"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/sharing"
)

func cand(id string, email, phone []byte) Order {
	return Order{SubjectOrder: orders.SubjectOrder{RetentionRow: orders.RetentionRow{OrderID: id}, EmailHash: email, PhoneHash: phone,
		LookupVersion: 1}}
}

func TestAssessIncludesOnlyOrdersThatAgreeWithEveryIdentifier(t *testing.T) {
	t.Parallel()
	jane, john, p1, p2 := []byte("E-jane"), []byte("E-john"), []byte("P-1"), []byte("P-2")
	for _, tc := range []struct {
		name   string
		eh, ph []byte
		cands  []Order
		want   map[string]string // id → state: reason
	}{
		{"both_identifiers_agree", jane, p1, []Order{cand("a", jane, p1)}, map[string]string{"a": "included: "}},
		{"shared_phone_other_email_needs_review", jane, p1, []Order{cand("a", jane, p1), cand("b", john, p1)},
			map[string]string{"a": "included: ", "b": "needs_review: email differs"}},
		{"same_email_other_phone_needs_review", jane, p1, []Order{cand("a", jane, p2)}, map[string]string{"a": "needs_review: phone differs"}},
		{"an_order_without_the_identifier_agrees", jane, p1, []Order{cand("a", jane, nil)}, map[string]string{"a": "included: "}},
		{"one_phone_two_emails_all_need_review", nil, p1, []Order{cand("a", jane, p1), cand("b", john, p1)},
			map[string]string{"a": "needs_review: orders with this phone hold 2 different emails", "b": "needs_review: orders with this phone hold 2 different emails"}},
		{"one_phone_one_email_included", nil, p1, []Order{cand("a", jane, p1), cand("b", jane, p1)},
			map[string]string{"a": "included: ", "b": "included: "}},
		{"one_email_two_phones_all_need_review", jane, nil, []Order{cand("a", jane, p1), cand("b", jane, p2)},
			map[string]string{"a": "needs_review: orders with this email hold 2 different phones", "b": "needs_review: orders with this email hold 2 different phones"}},
		{"an_excluded_order_does_not_split_the_rest", nil, p1,
			[]Order{cand("a", jane, p1), func() Order { o := cand("b", john, p1); o.State, o.DecidedBy = StateExcluded, "dpo"; return o }()},
			map[string]string{"a": "included: ", "b": "excluded: "}},
		{"a_new_order_held_by_a_restriction_waits", jane, nil,
			[]Order{func() Order { o := cand("a", jane, p1); o.Restriction = sharing.KindNewOrder; return o }()},
			map[string]string{"a": "needs_review: a new order held by the restriction"}},
		{"a_decision_stands", jane, p1,
			[]Order{func() Order {
				o := cand("b", john, p1)
				o.State, o.Reason, o.DecidedBy = StateIncluded, "confirmed", "dpo"
				return o
			}()},
			map[string]string{"b": "included: confirmed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assess(tc.eh, tc.ph, 1, tc.cands)
			for _, o := range tc.cands {
				if got := o.State + ": " + o.Reason; got != tc.want[o.OrderID] {
					t.Errorf("%s: %q, want %q", o.OrderID, got, tc.want[o.OrderID])
				}
			}
		})
	}
}

func TestClassifyOneRuleForEveryClosedOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	future, past := now.AddDate(5, 0, 0), now.AddDate(0, 0, -1)
	order := func(st orders.Status, purge *time.Time, held, erased bool) Order {
		return Order{SubjectOrder: orders.SubjectOrder{RetentionRow: orders.RetentionRow{OrderID: "o", Status: st, PurgeAfter: purge}, Erased: erased}, Held: held}
	}
	for _, tc := range []struct {
		name string
		o    Order
		want string
	}{
		{"cancelled_is_kept_for_bookkeeping", order(orders.StatusCancelled, &future, false, false), "retained bookkeeping"},
		{"rejected_is_kept_for_bookkeeping", order(orders.StatusRejected, &future, false, false), "retained bookkeeping"},
		{"delivered_is_kept_for_bookkeeping", order(orders.StatusDelivered, &future, false, false), "retained bookkeeping"},
		{"past_its_purge_date_is_erased", order(orders.StatusCancelled, &past, false, false), "erased "},
		{"a_legal_hold_keeps_it", order(orders.StatusDelivered, &past, true, false), "retained legal_hold"},
		{"an_open_order_waits", order(orders.StatusShipped, nil, false, false), "scheduled "},
		{"erased_already", order(orders.StatusDelivered, &future, true, true), "erased "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oc := classify(tc.o, now)
			if got := oc.Outcome + " " + oc.Reason; got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
