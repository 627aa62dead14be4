package orders

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/vault"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Service is the order use cases over the database.
type Service struct {
	DB *store.DB
	// Batch, if set, group-commits order creations: concurrent requests
	// share one transaction (each under its own savepoint) and one fsync.
	Batch *store.Batcher
	Hooks []Hook
	Audit audit.Recorder
	Clock base.Clock
	// AfterCommit runs after a change has committed (it wakes the
	// dispatcher so that delivery starts at once).
	AfterCommit func(Change)
	// SharedWith reports, inside a transaction, whether the partner was
	// sent the order; the sharing package knows. Callbacks about orders a
	// partner never received are refused.
	SharedWith func(ctx context.Context, q sqlx.QueryerContext, orderID, partnerID string) (bool, error)
	// ErasureNoticeSent reports, inside a transaction, whether the partner
	// was sent an erasure notice (order.erased) for the order; the sharing
	// package knows. An erasure confirmation answers a notice, so one
	// without a notice is refused.
	ErasureNoticeSent func(ctx context.Context, q sqlx.QueryerContext, orderID, partnerID string) (bool, error)
	// Retention returns the fiscal year of a closing time and when the
	// order's personal data becomes purgeable; cmd supplies it from the
	// fiscal calendar.
	Retention func(closedAt time.Time) (fiscalYear int, purgeAfter time.Time)
	// PartnerKind returns a partner's kind ("reseller", "logistics",
	// "manufacturer") for checking import lines; cmd supplies it.
	PartnerKind func(ctx context.Context, id string) (string, error)
	// Hash returns the keyed hash of a normalised personal value for
	// purpose ("email", "phone"); cmd supplies the keyring's. Orders are
	// indexed by these hashes, never by the values. LookupVersion names the
	// lookup key Hash uses; Hashes hashes under every lookup key held, the
	// current first (while stored hashes are made again under a new key).
	Hash          func(purpose, value string) []byte
	LookupVersion func() uint32
	Hashes        func(purpose, value string) [][]byte
	// Rehashed, if set, is told inside the transaction of a re-hash which
	// stored hashes (hex of the old one → the new one) were made again
	// under lookup key version, so that the tables of other packages that
	// hold them (requests, restrictions) follow.
	Rehashed func(ctx context.Context, tx *store.Tx, changed map[string][]byte, version uint32) error
	// Vault seals every personal value with a data key of its order's.
	Vault *vault.Vault

	catOnce sync.Once
	catErr  error
	cat     []CatalogItem
	skus    map[string]bool
}

func (s *Service) record(ctx context.Context, tx *store.Tx, actor, action string, subjects, details map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, tx, actor, action, subjects, details)
}

func (s *Service) emit(ctx context.Context, tx *store.Tx, ch Change) error {
	for _, h := range s.Hooks {
		if err := h.OrderChanged(ctx, tx, ch); err != nil {
			return err
		}
	}
	return nil
}

// loadCatalog reads the catalogue once; it changes only with a migration.
func (s *Service) loadCatalog(ctx context.Context) error {
	s.catOnce.Do(func() {
		s.cat, s.catErr = s.rows().catalog(ctx)
		if s.catErr != nil {
			s.catErr = fmt.Errorf("read catalog: %w", s.catErr)
		}
		s.skus = make(map[string]bool, len(s.cat))
		for _, c := range s.cat {
			s.skus[c.SKU] = true
		}
	})
	return s.catErr
}

// Catalog returns the orderable SKUs.
func (s *Service) Catalog(ctx context.Context) ([]CatalogItem, error) {
	if err := s.loadCatalog(ctx); err != nil {
		return nil, err
	}
	return s.cat, nil
}

// Orderable reports whether sku is in the catalogue.
func (s *Service) Orderable(sku string) bool { return s.skus[sku] }

// Decode validates a request body against the catalogue; see Decode.
func (s *Service) Decode(ctx context.Context, body []byte) (Draft, error) {
	if err := s.loadCatalog(ctx); err != nil {
		return Draft{}, err
	}
	return Decode(body, s)
}

// CreateRequest is a validated order submission.
type CreateRequest struct {
	ResellerID     string
	Actor          string
	Draft          Draft
	IdempotencyKey string
	Body           []byte // the raw request, hashed for idempotency
}

// Created is the outcome of Create. Replayed is true when an earlier
// request with the same Idempotency-Key produced the order.
type Created struct {
	Order    *Order
	Replayed bool
}

// Create stores a new order and, in the same transaction, runs the hooks
// (the sharing outbox) and the audit record, so an acknowledged order always
// has its deliveries. It fails with a 409 for a reference the reseller used
// before and a 422 for an Idempotency-Key reused with another body.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Created, error) {
	now := s.Clock.Now()
	o := &Order{
		ID: NewID(), ResellerID: req.ResellerID, Reference: req.Draft.Reference, Status: StatusReceived,
		Customer: req.Draft.Customer, ShipTo: req.Draft.ShipTo, Items: req.Draft.Items, Notes: req.Draft.Notes,
		CreatedAt: now, UpdatedAt: now,
	}
	s.index(o)
	var hash []byte
	if req.IdempotencyKey != "" {
		h := sha256.Sum256(req.Body)
		hash = h[:]
	}
	var out Created
	write := s.DB.Tx
	if s.Batch != nil {
		write = s.Batch.Do
	}
	err := write(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.createIn(ctx, tx, req, o, hash, now)
		return err
	})
	if err != nil {
		return Created{}, fmt.Errorf("create order: %w", err)
	}
	if !out.Replayed && s.AfterCommit != nil {
		s.AfterCommit(Change{Kind: ChangeCreated, Order: out.Order, Actor: req.Actor})
	}
	return out, nil
}

// createIn writes o, its items, timeline entry, audit record and
// deliveries inside tx; or, for an Idempotency-Key already used with the
// same body, returns the order that key created.
func (s *Service) createIn(ctx context.Context, tx *store.Tx, req CreateRequest, o *Order, hash []byte, now time.Time) (Created, error) {
	if req.IdempotencyKey != "" {
		prev, ok, err := s.rows().idempotencyKey(ctx, tx, req.ResellerID, req.IdempotencyKey, now)
		switch {
		case err != nil:
			return Created{}, fmt.Errorf("read idempotency key: %w", err)
		case ok:
			if string(prev.Hash) != string(hash) {
				return Created{}, ErrIdempotencyReuse
			}
			po, err := s.getOrder(ctx, tx, prev.OrderID)
			if err != nil {
				return Created{}, err
			}
			return Created{Order: po, Replayed: true}, nil
		}
	}
	// While orders are hashed under an older lookup key too, the unique
	// index alone cannot see a duplicate among them: look for one first.
	if old := s.olderReferenceHashes(req.ResellerID, o.Reference); len(old) > 0 {
		existing, err := s.rows().byOlderReferences(ctx, tx, req.ResellerID, old)
		if err != nil {
			return Created{}, fmt.Errorf("find order by reference: %w", err)
		}
		if len(existing) > 0 {
			return Created{}, duplicateReference(existing[0])
		}
	}
	// The unique (reseller, reference) index refuses a duplicate; only
	// then is the existing order looked up for the 409's Location.
	if err := s.insertOrder(ctx, tx, o); err != nil {
		if !errors.Is(err, errDuplicateReference) {
			return Created{}, err
		}
		existing, gerr := s.rows().byReference(ctx, tx, req.ResellerID, s.referenceHash(req.ResellerID, o.Reference), o.Reference)
		if gerr != nil {
			return Created{}, fmt.Errorf("find order by reference: %w", gerr)
		}
		return Created{}, duplicateReference(existing)
	}
	if req.IdempotencyKey != "" {
		if err := s.rows().putIdempotencyKey(ctx, tx, putIdempotencyParams{ResellerID: req.ResellerID, Key: req.IdempotencyKey,
			RequestHash: hash, OrderID: o.ID, Status: http.StatusCreated, Created: now, Expires: now.Add(IdempotencyTTL)}); err != nil {
			return Created{}, fmt.Errorf("store idempotency key: %w", err)
		}
	}
	if err := s.record(ctx, tx, req.Actor, "order.created", map[string]string{"order_id": o.ID, "partner_id": o.ResellerID},
		map[string]string{"status": string(o.Status), "items": fmt.Sprint(len(o.Items))}); err != nil {
		return Created{}, err
	}
	o.Recipients, o.Shipments = []Answer{}, []Shipment{}
	if err := insertEvent(ctx, tx, Event{OrderID: o.ID, Time: now, Type: "order.created", Source: req.Actor,
		To: o.Status, Outcome: string(Applied)}); err != nil {
		return Created{}, err
	}
	if err := s.emit(ctx, tx, Change{Kind: ChangeCreated, Order: o, Actor: req.Actor}); err != nil {
		return Created{}, err
	}
	return Created{Order: o}, nil
}

// Get returns an order of the reseller. Another reseller's order is
// ErrNotFound, exactly as a missing one, so ids cannot be probed. An empty
// resellerID reads any order (operators).
func (s *Service) Get(ctx context.Context, resellerID, id string) (*Order, error) {
	o, err := s.getOrder(ctx, s.DB.Reader, id)
	if err != nil {
		return nil, err
	}
	if resellerID != "" && o.ResellerID != resellerID {
		return nil, ErrNotFound
	}
	return o, nil
}

// View returns any order to an operator and records the read of its
// personal data in the audit trail, in the same transaction, so there is
// no read without its record.
func (s *Service) View(ctx context.Context, actor, id string) (*Order, error) {
	var out *Order
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		o, err := s.getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		out = o
		return s.record(ctx, tx, actor, "order.viewed", map[string]string{"order_id": id}, map[string]string{"route": "admin"})
	})
	if err != nil {
		return nil, fmt.Errorf("view order: %w", err)
	}
	return out, nil
}

// List returns one page of the reseller's orders, newest first, and whether
// more follow.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Order, bool, error) {
	want := f.Limit
	f.Limit++
	os, err := s.listOrders(ctx, s.DB.Reader, f)
	if err != nil {
		return nil, false, err
	}
	if len(os) > want {
		return os[:want], true, nil
	}
	return os, false, nil
}

// Cancel cancels the reseller's order. Cancelling is allowed until a
// recipient reports it shipped; it is final at once, and the hooks send
// order.cancelled to the recipients. Cancelling a cancelled order returns it
// unchanged.
func (s *Service) Cancel(ctx context.Context, resellerID, actor, id string) (*Order, error) {
	var (
		out     *Order
		changed bool
	)
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		o, err := s.getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if resellerID != "" && o.ResellerID != resellerID {
			return ErrNotFound
		}
		out = o
		switch o.Status {
		case StatusCancelled:
			return nil
		case StatusReceived, StatusShared, StatusAccepted:
		default:
			return ErrNotCancellable
		}
		from := o.Status
		now := s.Clock.Now()
		if err := s.setStatus(ctx, tx, o, StatusCancelled, now); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, Event{OrderID: o.ID, Time: now, Type: "order.cancelled", Source: actor,
			From: from, To: o.Status, Outcome: string(Applied)}); err != nil {
			return err
		}
		if err := s.record(ctx, tx, actor, "order.cancelled", map[string]string{"order_id": o.ID},
			map[string]string{"from": string(from), "to": string(o.Status)}); err != nil {
			return err
		}
		changed = true
		return s.emit(ctx, tx, Change{Kind: ChangeCancelled, Order: o, From: from, Actor: actor})
	})
	if err != nil {
		return nil, fmt.Errorf("cancel order: %w", err)
	}
	if changed && s.AfterCommit != nil {
		s.AfterCommit(Change{Kind: ChangeCancelled, Order: out, Actor: actor})
	}
	return out, nil
}

// PurgeExpiredIdempotencyKeys deletes keys older than their 24 hours and
// returns how many went.
func (s *Service) PurgeExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = s.rows().purgeIdempotencyKeys(ctx, tx, s.Clock.Now()); err != nil {
			return fmt.Errorf("purge idempotency keys: %w", err)
		}
		return nil
	})
	return n, err
}
