package breaches

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/store"
)

// The letters to persons (Art. 34): written on demand from the live
// orders, one per person the breach touched, in clear and plain language:
// what happened, which of their data, the likely consequences, the
// measures taken, what they can do, and whom to contact. Each letter
// written is recorded in the audit trail by its person's first order id;
// the letters themselves are kept nowhere.

// Letters is a page of letters to the persons a breach touched.
type Letters struct {
	BreachID    string    `json:"breach_id"`
	GeneratedAt time.Time `json:"generated_at"`
	// Persons counts the persons who can be written to; NotContactable
	// the orders erased here since the breach, whose persons can be
	// neither identified nor contacted: the letters cannot reach them.
	Persons        int      `json:"persons"`
	NotContactable int      `json:"not_contactable_orders"`
	Note           string   `json:"note"`
	Letters        []Letter `json:"letters"`
	// HasMore says more persons follow; NextCursor is the next page's
	// cursor (?cursor=).
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Letter is one person's letter, with their own contact data.
type Letter struct {
	To      Addressee `json:"to"`
	Orders  []string  `json:"orders"`
	Fields  []string  `json:"fields"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
}

// Addressee is the person, as their latest order names them.
type Addressee struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// group is one person's touched orders.
type group struct {
	first string // the lowest order id: the person's place in the list
	ids   []string
	bits  fieldBits
}

// MaxLetters bounds a page of letters.
const MaxLetters = 200

// Letters writes up to limit letters, for the persons after the cursor
// after (the first order id of the last person of the previous page), and
// records each in the audit trail. It refuses before the DPO recorded the
// breach as a high risk to persons.
func (s *Service) Letters(ctx context.Context, actor, id, after string, limit int) (Letters, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return Letters{}, err
	}
	if !b.HighRisk {
		return Letters{}, ErrNotHighRisk
	}
	limit = min(max(limit, 1), MaxLetters)
	byPerson := map[uint64]*group{}
	erased := map[string]struct{}{}
	places := b.Recipients
	if b.Scope == ScopeService {
		places = []string{""}
	}
	for _, pid := range places {
		err := s.walk(ctx, pid, b.WindowFrom, b.WindowTo, func(o touched) {
			if o.Erased != orders.NotYet {
				erased[o.OrderID] = struct{}{}
				return
			}
			key := o.Person
			if key == 0 {
				// A live order with neither email nor phone: its own person.
				h := fnv.New64a()
				h.Write([]byte(o.OrderID))
				key = h.Sum64() &^ 1
			}
			g := byPerson[key]
			if g == nil {
				g = &group{first: o.OrderID}
				byPerson[key] = g
			}
			g.bits |= o.bits
			if !slices.Contains(g.ids, o.OrderID) {
				g.ids = append(g.ids, o.OrderID)
				g.first = min(g.first, o.OrderID)
			}
		})
		if err != nil {
			return Letters{}, fmt.Errorf("breach letters: %w", err)
		}
	}
	groups := make([]*group, 0, len(byPerson))
	for _, g := range byPerson {
		if g.first > after {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b *group) int { return cmp.Compare(a.first, b.first) })
	out := Letters{BreachID: id, GeneratedAt: s.Clock.Now(), Persons: len(byPerson), NotContactable: len(erased), Letters: []Letter{},
		Note: fmt.Sprintf("%d persons can be written to. %d orders the breach touched were erased here since, as their retention or their "+
			"person's request required: who they belonged to can no longer be known, so no letter can reach them; a public "+
			"communication (Art. 34(3)(c)) is the way to inform them.", len(byPerson), len(erased))}
	if len(groups) > limit {
		groups = groups[:limit]
		out.HasMore, out.NextCursor = true, api.Cursor(groups[limit-1].first)
	}
	// The letters are written from the read pool; only their audit
	// entries take the writer, together, once every letter is written.
	for _, g := range groups {
		l, err := s.letter(ctx, b, g)
		if err != nil {
			return Letters{}, fmt.Errorf("breach letters: %w", err)
		}
		out.Letters = append(out.Letters, l)
	}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		for i, g := range groups {
			if err := s.Audit.Record(ctx, tx, actor, "breach.letter_written", map[string]string{"order_id": g.first},
				map[string]string{"breach_id": id, "orders": strconv.Itoa(len(g.ids)), "fields": strings.Join(out.Letters[i].Fields, ",")}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Letters{}, fmt.Errorf("breach letters: %w", err)
	}
	return out, nil
}

// letter writes one person's letter from their live orders, addressed as
// the latest of them names the person.
func (s *Service) letter(ctx context.Context, b *Breach, g *group) (Letter, error) {
	slices.Sort(g.ids)
	var latest *orders.Order
	for _, oid := range g.ids {
		o, err := s.Orders.GetTx(ctx, s.DB.Reader, oid)
		if err != nil {
			return Letter{}, err
		}
		if latest == nil || o.CreatedAt.After(latest.CreatedAt) {
			latest = o
		}
	}
	fields := g.bits.names()
	l := Letter{To: Addressee{Name: latest.Customer.Name, Email: latest.Customer.Email, Phone: latest.Customer.Phone},
		Orders: g.ids, Fields: fields, Subject: "A personal data breach that concerns you"}
	var t strings.Builder
	fmt.Fprintf(&t, "Dear %s,\n\n", cmp.Or(latest.Customer.Name, "customer"))
	where := "at " + s.Controller.Name + ", which processes your order"
	if b.Scope == ScopeRecipients {
		where = "at a company we share your order's delivery details with so that it can be shipped"
	}
	fmt.Fprintf(&t, "We are writing to tell you about a personal data breach %s. Between %s and %s, these details of yours "+
		"may have been exposed: %s (orders %s).\n\n", where, b.WindowFrom.Format(time.DateOnly), b.WindowTo.Format(time.DateOnly),
		plainFields(fields), strings.Join(g.ids, ", "))
	fmt.Fprintf(&t, "What happened: %s\n\n", b.Description)
	if b.Consequences != "" {
		fmt.Fprintf(&t, "What this may mean for you: %s\n\n", b.Consequences)
	}
	if b.Measures != "" {
		fmt.Fprintf(&t, "What we have done: %s\n\n", b.Measures)
	}
	fmt.Fprintf(&t, "What you can do: %s\n\n", b.Advice)
	fmt.Fprintf(&t, "If you have questions, contact our data-protection officer: %s. You may also complain to the supervisory "+
		"authority (in Denmark, Datatilsynet).\n\n%s\n", cmp.Or(s.Controller.DPO, s.Controller.Contact), s.Controller.Name)
	l.Text = t.String()
	return l, nil
}

// plainFields names the fields in plain words.
func plainFields(names []string) string {
	words := map[string]string{"email": "your email address", "phone": "your phone number", "address": "your delivery address",
		"name": "your name", "notes": "notes on your order", "unknown": "the contact and delivery details of your order"}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = words[n]
	}
	return strings.Join(out, ", ")
}
