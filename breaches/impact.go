package breaches

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/subjects"
)

// Impact is what a breach touched, as the service's own records tell it:
// figures only. At a recipient, an order counts when its personal data was
// disclosed to the recipient (delivered, attempted or in flight) before
// the window ended and the recipient had not acknowledged erasing it
// before the window began. At this service, an order counts when it was
// taken before the window ended and not erased before it began.
type Impact struct {
	ComputedAt time.Time `json:"computed_at"`
	Orders     int       `json:"orders"`
	// Persons counts distinct persons: orders with the same keyed email
	// hash (or, without one, phone hash) are one person's. An order
	// erased here since has lost its hashes and counts as a person of its
	// own, so Persons is an upper bound where ErasedOrders is not 0.
	Persons int `json:"persons"`
	// PersonsContactable are the persons with an order still held here,
	// who can be written to (Art. 34); ErasedOrders the orders erased
	// here since, whose persons cannot be.
	PersonsContactable int            `json:"persons_contactable"`
	ErasedOrders       int            `json:"erased_orders"`
	Fields             []FieldCount   `json:"fields"`
	Countries          []CountryCount `json:"countries"`
	// StillHeld counts the orders whose data is held there today: no
	// erasure acknowledged by the recipient (erased here, for this
	// service); StillHeldShare is its share of Orders.
	StillHeld      int     `json:"still_held"`
	StillHeldShare float64 `json:"still_held_share"`
	// Recipients breaks a breach at several recipients down.
	Recipients []RecipientImpact `json:"recipients,omitempty"`
}

// RecipientImpact is one recipient's part of a breach.
type RecipientImpact struct {
	PartnerID string       `json:"partner_id"`
	Name      string       `json:"name"`
	Country   string       `json:"country"`
	Orders    int          `json:"orders"`
	Persons   int          `json:"persons"`
	StillHeld int          `json:"still_held"`
	Fields    []FieldCount `json:"fields"`
}

// FieldCount is how many orders had a field held, with its category of
// personal data (Art. 33(3)(a)).
type FieldCount struct {
	Field    string `json:"field"`
	Category string `json:"category"`
	Orders   int    `json:"orders"`
}

// CountryCount is how many orders went to a delivery country ("unknown"
// for orders taken before the country was kept, or erased since).
type CountryCount struct {
	Country string `json:"country"`
	Orders  int    `json:"orders"`
}

// fieldBits are the fields an order had held, as bits.
type fieldBits uint8

// The fields, in the order they are reported.
var fieldNames = []struct {
	name, category string
}{
	{"email", "customer.email"},
	{"phone", "customer.phone"},
	{"address", "ship_to"},
	{"name", "customer.name"},
	{"notes", "notes"},
	{"unknown", ""},
}

const (
	bitEmail fieldBits = 1 << iota
	bitPhone
	bitAddress
	bitName
	bitNotes
	// bitUnknown: an earlier system disclosed the order (husky orders
	// import) and which fields it sent is not known.
	bitUnknown
)

// serviceBits are the fields every order holds here.
const serviceBits = bitEmail | bitPhone | bitAddress | bitName | bitNotes

// parseFields reads a delivery's field list (partners.FieldsString).
func parseFields(s string) fieldBits {
	var b fieldBits
	for f := range strings.SplitSeq(s, ",") {
		switch partners.Field(f) {
		case partners.FieldEmail:
			b |= bitEmail
		case partners.FieldPhone:
			b |= bitPhone
		case partners.FieldAddress:
			b |= bitAddress
		}
	}
	return b
}

// names lists the fields in b.
func (b fieldBits) names() []string {
	var out []string
	for i, f := range fieldNames {
		if b&(1<<i) != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

// category describes a field's category of personal data in the words of
// the record of processing.
func category(i int) string {
	key := fieldNames[i].category
	if key == "" {
		return "not known: disclosed by an earlier system before this service took the order over (husky orders import)"
	}
	for _, c := range subjects.Categories {
		if c.Field == key {
			return c.Category
		}
	}
	return key
}

// touched is one order a breach touched.
type touched struct {
	orders.Holding
	bits fieldBits
	// held: still held there today.
	held bool
}

// walk calls fn with every order the breach touched at one place: the
// recipient partnerID, or this service for "". At a recipient, what it
// was sent and what each order holds are read at once, on two
// connections, and joined here by order id.
func (s *Service) walk(ctx context.Context, partnerID string, from, to time.Time, fn func(touched)) error {
	if partnerID == "" {
		return s.Orders.Holdings(ctx, "", from, to, func(h orders.Holding) error {
			if h.Erased != orders.Before {
				fn(touched{Holding: h, bits: serviceBits, held: h.Erased == orders.NotYet})
			}
			return nil
		})
	}
	// What the recipient was sent is read first, into a flat list sorted
	// by order id (it arrives nearly sorted: ids begin with their time);
	// then every order is read and looked up in it, in passing. At a
	// million orders a map keyed by id costs more than the reading, and
	// two readers at once are slower than one after the other.
	type disclosure struct {
		orderID string
		bits    fieldBits
	}
	var disclosed blocks[disclosure]
	parsed := map[string]fieldBits{}
	err := s.Disclosures.HeldBy(ctx, partnerID, to, func(orderID, fields string, imported bool) error {
		b, ok := parsed[fields]
		if !ok {
			b = parseFields(fields)
			parsed[fields] = b
		}
		if imported {
			b |= bitUnknown
		}
		if b != 0 {
			disclosed.add(disclosure{orderID, b})
		}
		return nil
	})
	if err != nil || disclosed.n == 0 {
		return err
	}
	byID := func(d disclosure, id string) int { return strings.Compare(d.orderID, id) }
	ds := disclosed.sorted(func(a, b disclosure) int { return strings.Compare(a.orderID, b.orderID) })
	next := 0
	return s.Orders.Holdings(ctx, partnerID, from, to, func(h orders.Holding) error {
		if h.Acked == orders.Before {
			return nil
		}
		i := next
		if i >= len(ds) || ds[i].orderID != h.OrderID {
			i, _ = slices.BinarySearchFunc(ds, h.OrderID, byID)
		}
		var b fieldBits
		for ; i < len(ds) && ds[i].orderID == h.OrderID; i++ {
			b |= ds[i].bits
		}
		next = i
		if b != 0 {
			fn(touched{Holding: h, bits: b, held: h.Acked == orders.NotYet})
		}
		return nil
	})
}

// blocks is a list grown in blocks of a fixed size, so that growing it
// to a million never copies what it holds; sorted joins the blocks into
// one slice, once, and sorts it.
type blocks[T any] struct {
	all [][]T
	n   int
}

const blockSize = 1 << 15

func (b *blocks[T]) add(v T) {
	if len(b.all) == 0 || len(b.all[len(b.all)-1]) == blockSize {
		b.all = append(b.all, make([]T, 0, blockSize))
	}
	last := &b.all[len(b.all)-1]
	*last = append(*last, v)
	b.n++
}

func (b *blocks[T]) sorted(cmp func(a, b T) int) []T {
	out := make([]T, 0, b.n)
	for _, blk := range b.all {
		out = append(out, blk...)
	}
	b.all = nil
	slices.SortFunc(out, cmp)
	return out
}

// tally adds up the orders of one place, or of all of them.
type tally struct {
	orders, erased, held int
	// persons holds each order's person fingerprint, live those of the
	// orders still held here (their persons can be written to), counted
	// distinct at the end; orders with no person (erased) count one each
	// in alone.
	persons, live []uint64
	alone         int
	fields        [6]int
	countries     map[string]int
}

func newTally() *tally {
	return &tally{countries: map[string]int{}}
}

func (t *tally) add(o touched) {
	t.orders++
	live := o.Erased == orders.NotYet
	if o.Person == 0 {
		t.alone++
	} else {
		t.persons = append(t.persons, o.Person)
		if live {
			t.live = append(t.live, o.Person)
		}
	}
	if !live {
		t.erased++
	}
	if o.held {
		t.held++
	}
	for i := range fieldNames {
		if o.bits&(1<<i) != 0 {
			t.fields[i]++
		}
	}
	c := o.Country
	if c == "" {
		c = "unknown"
	}
	t.countries[c]++
}

// distinct counts the distinct values of *s, leaving them sorted and
// compacted in *s (so that counting again gives the same).
func distinct(s *[]uint64) int {
	slices.Sort(*s)
	*s = slices.Compact(*s)
	return len(*s)
}

func (t *tally) personCount() int { return distinct(&t.persons) + t.alone }

func (t *tally) contactable() int { return distinct(&t.live) }

func (t *tally) fieldCounts() []FieldCount {
	out := []FieldCount{}
	for i, f := range fieldNames {
		if t.fields[i] > 0 {
			out = append(out, FieldCount{Field: f.name, Category: category(i), Orders: t.fields[i]})
		}
	}
	return out
}

func (t *tally) impact(now time.Time) *Impact {
	im := &Impact{ComputedAt: now, Orders: t.orders, Persons: t.personCount(), PersonsContactable: t.contactable(),
		ErasedOrders: t.erased, Fields: t.fieldCounts(), Countries: []CountryCount{}, StillHeld: t.held}
	for c, n := range t.countries {
		im.Countries = append(im.Countries, CountryCount{Country: c, Orders: n})
	}
	slices.SortFunc(im.Countries, func(a, b CountryCount) int {
		return cmp.Or(cmp.Compare(b.Orders, a.Orders), cmp.Compare(a.Country, b.Country))
	})
	if t.orders > 0 {
		im.StillHeldShare = float64(t.held) / float64(t.orders)
	}
	return im
}

// compute works out the breach's impact from the records as they are now.
func (s *Service) compute(ctx context.Context, b *Breach) (*Impact, error) {
	now := s.Clock.Now()
	if b.Scope == ScopeService {
		t := newTally()
		if err := s.walk(ctx, "", b.WindowFrom, b.WindowTo, t.add); err != nil {
			return nil, err
		}
		return t.impact(now), nil
	}
	names, err := s.recipientNames(ctx)
	if err != nil {
		return nil, err
	}
	// Over several recipients an order counts once, with every field any
	// of them held, and as still held where any still holds it.
	total := newTally()
	var union map[string]touched
	if len(b.Recipients) > 1 {
		union = map[string]touched{}
	}
	var parts []RecipientImpact
	for _, pid := range b.Recipients {
		t := newTally()
		if union == nil {
			t = total // one recipient: its figures are the total
		}
		err := s.walk(ctx, pid, b.WindowFrom, b.WindowTo, func(o touched) {
			t.add(o)
			if union == nil {
				return
			}
			if prev, ok := union[o.OrderID]; ok {
				o.bits |= prev.bits
				o.held = o.held || prev.held
			}
			union[o.OrderID] = o
		})
		if err != nil {
			return nil, err
		}
		p := names[pid]
		parts = append(parts, RecipientImpact{PartnerID: pid, Name: p.Name, Country: p.Country, Orders: t.orders,
			Persons: t.personCount(), StillHeld: t.held, Fields: t.fieldCounts()})
	}
	for _, o := range union {
		total.add(o)
	}
	im := total.impact(now)
	im.Recipients = parts
	return im, nil
}

// recipientNames reads every partner by id.
func (s *Service) recipientNames(ctx context.Context) (map[string]partners.Partner, error) {
	ps, err := s.Partners.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]partners.Partner, len(ps))
	for _, p := range ps {
		out[p.ID] = p
	}
	return out, nil
}
