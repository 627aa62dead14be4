package partners

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/store"
)

// Store keeps partners, their webhook secrets and API keys.
type Store struct {
	DB    *store.DB
	Audit audit.Recorder
	Clock base.Clock
	// AllowPrivateEndpoints permits loopback and private webhook URLs
	// (development and tests only).
	AllowPrivateEndpoints bool
	// Sealer encrypts webhook signing secrets at rest (the keyring).
	Sealer Sealer
}

func (r partnerRow) partner() Partner {
	p := Partner{ID: r.ID, Kind: Kind(r.Kind), Name: r.Name, EndpointURL: r.EndpointURL, Enabled: r.Enabled,
		DisabledReason: r.DisabledReason, Demo: r.Demo, Country: r.Country, TransferBasis: TransferBasis(r.TransferBasis),
		AdequacyFramework: Framework(r.Framework), CreatedAt: r.CreatedAt.Time}
	if r.Fields != "" {
		p.Fields, _ = ParseFields(r.Fields)
	}
	return p
}

func (s *Store) record(ctx context.Context, tx *store.Tx, actor, action string, subjects, details map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, tx, actor, action, subjects, details)
}

// NewPartner is what Add needs to create a partner.
type NewPartner struct {
	// ID is optional: an operator migrating from an earlier system may keep
	// its partner ids (ptn_ and 1-60 of [a-z0-9_]).
	ID          string
	Kind        Kind
	Name        string
	EndpointURL string
	Fields      string // comma-separated allow-list; empty means all
	// Country and TransferBasis (recipients): where it is and the
	// safeguard of a transfer there; default DK and eea. AdequacyFramework
	// names the framework of a partial adequacy decision (eu-us-dpf).
	Country, TransferBasis, AdequacyFramework string
	// Demo marks a partner of `husky serve --demo`.
	Demo bool
}

var partnerID = regexp.MustCompile(`^ptn_[a-z0-9_]{1,60}$`)

// CheckNew validates what Add would be given, without a database: the
// kind, the name, the id, the endpoint and the allow-list. It returns the
// first problem as a problem error.
func CheckNew(in NewPartner, allowPrivate bool) error {
	if _, err := ParseKind(string(in.Kind)); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return api.New(http.StatusUnprocessableEntity, "invalid_name", "name must be 1 to 200 characters")
	}
	if why := api.CheckText(name, false); why != "" {
		return api.New(http.StatusUnprocessableEntity, "invalid_name", "name %s", why)
	}
	if in.ID != "" && !partnerID.MatchString(in.ID) {
		return api.New(http.StatusUnprocessableEntity, "invalid_id", "a partner id is ptn_ followed by 1 to 60 of a-z, 0-9 and _")
	}
	if in.Kind.IsRecipient() || in.EndpointURL != "" {
		if in.EndpointURL == "" {
			return api.New(http.StatusUnprocessableEntity, "endpoint_required", "a recipient needs --endpoint URL")
		}
		if err := ValidateEndpoint(in.EndpointURL, allowPrivate); err != nil {
			return err
		}
	}
	if in.Kind.IsRecipient() {
		if _, err := ParseFields(in.Fields); err != nil {
			return err
		}
	} else if in.Fields != "" {
		return api.New(http.StatusUnprocessableEntity, "invalid_field", "only recipients have an allow-list of fields")
	}
	if _, _, _, err := CheckTransfer(in.Country, in.TransferBasis, in.AdequacyFramework); err != nil {
		return err
	}
	return nil
}

// Add creates a partner. A recipient gets its first webhook secret, which is
// returned once and never shown again. It fails with a problem error when the
// name, endpoint or fields are invalid (see CheckNew).
func (s *Store) Add(ctx context.Context, actor string, in NewPartner) (Partner, string, error) {
	if err := CheckNew(in, s.AllowPrivateEndpoints); err != nil {
		return Partner{}, "", err
	}
	country, basis, framework, _ := CheckTransfer(in.Country, in.TransferBasis, in.AdequacyFramework)
	p := Partner{ID: cmp.Or(in.ID, base.NewID("ptn_")), Kind: in.Kind, Name: strings.TrimSpace(in.Name), Enabled: true,
		Demo: in.Demo, Country: country, TransferBasis: basis, AdequacyFramework: framework, CreatedAt: s.Clock.Now()}
	var secret string
	if in.EndpointURL != "" {
		p.EndpointURL = in.EndpointURL
		var err error
		if secret, err = NewSecret(); err != nil {
			return Partner{}, "", err
		}
	}
	if in.Kind.IsRecipient() {
		p.Fields, _ = ParseFields(in.Fields)
	}
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().insert(ctx, tx, p); err != nil {
			return fmt.Errorf("insert partner: %w", err)
		}
		if secret != "" {
			if err := s.insertSecret(ctx, tx, p.ID, p.CreatedAt, secret); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, actor, "partner.created", map[string]string{"partner_id": p.ID},
			map[string]string{"kind": string(p.Kind), "fields": FieldsString(p.Fields), "country": p.Country,
				"transfer_basis": string(p.TransferBasis), "adequacy_framework": string(p.AdequacyFramework)})
	})
	if err != nil {
		return Partner{}, "", fmt.Errorf("add partner: %w", err)
	}
	return p, secret, nil
}

// Get returns the partner with id, or ErrPartnerNotFound.
func (s *Store) Get(ctx context.Context, id string) (Partner, error) {
	return s.GetTx(ctx, s.DB.Reader, id)
}

// GetTx is Get through q, such as the caller's transaction.
func (s *Store) GetTx(ctx context.Context, q sqlx.QueryerContext, id string) (Partner, error) {
	r, ok, err := s.rows().get(ctx, q, id)
	if err != nil {
		return Partner{}, fmt.Errorf("get partner: %w", err)
	}
	if !ok {
		return Partner{}, ErrPartnerNotFound
	}
	return r.partner(), nil
}

// List returns every partner, oldest first.
func (s *Store) List(ctx context.Context) ([]Partner, error) {
	rows, err := s.rows().list(ctx, s.DB.Reader, false)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	out := make([]Partner, len(rows))
	for i, r := range rows {
		out[i] = r.partner()
	}
	return out, nil
}

// Deliverable returns the ids of the enabled partners with a webhook
// endpoint: those the dispatcher sends to now.
func (s *Store) Deliverable(ctx context.Context) ([]string, error) {
	ids, err := s.rows().deliverable(ctx)
	if err != nil {
		return nil, fmt.Errorf("deliverable partners: %w", err)
	}
	return ids, nil
}

// Recipients returns the recipients (logistics and manufacturer) in the
// given transaction, enabled or not: deliveries to a disabled recipient are
// queued and wait for it to be enabled again.
func (s *Store) Recipients(ctx context.Context, q sqlx.QueryerContext) ([]Partner, error) {
	rows, err := s.rows().list(ctx, q, true)
	if err != nil {
		return nil, fmt.Errorf("list recipients: %w", err)
	}
	out := make([]Partner, len(rows))
	for i, r := range rows {
		out[i] = r.partner()
	}
	return out, nil
}

// SetEnabled enables or disables a partner; reason says why it was disabled
// ("operator", "gone", "failing"). It fails with ErrPartnerNotFound.
func (s *Store) SetEnabled(ctx context.Context, actor, id string, enabled bool, reason string) error {
	if enabled {
		reason = ""
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		return s.SetEnabledTx(ctx, tx, actor, id, enabled, reason)
	})
}

// SetEnabledTx is SetEnabled inside the caller's transaction.
func (s *Store) SetEnabledTx(ctx context.Context, tx *store.Tx, actor, id string, enabled bool, reason string) error {
	found, err := s.rows().setEnabled(ctx, tx, id, enabled, reason)
	if err != nil {
		return fmt.Errorf("set partner enabled: %w", err)
	}
	if !found {
		return ErrPartnerNotFound
	}
	action := "partner.enabled"
	if !enabled {
		action = "partner.disabled"
	}
	return s.record(ctx, tx, actor, action, map[string]string{"partner_id": id}, map[string]string{"reason": reason})
}

// SetEndpoint changes a recipient's webhook URL after checking it like Add.
// It fails with ErrPartnerNotFound.
func (s *Store) SetEndpoint(ctx context.Context, actor, id, endpoint string) error {
	if err := ValidateEndpoint(endpoint, s.AllowPrivateEndpoints); err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		found, err := s.rows().setEndpoint(ctx, tx, id, endpoint)
		if err != nil {
			return fmt.Errorf("set endpoint: %w", err)
		}
		if !found {
			return ErrPartnerNotFound
		}
		return s.record(ctx, tx, actor, "partner.endpoint_changed", map[string]string{"partner_id": id}, nil)
	})
}

// RegisterEndpoint points a partner's webhooks at endpoint (an empty
// endpoint stops them). When the partner has no signing secret yet, one is
// created and returned, once; otherwise the existing secret stays and ""
// is returned.
func (s *Store) RegisterEndpoint(ctx context.Context, actor, id, endpoint string) (string, error) {
	if endpoint != "" {
		if err := ValidateEndpoint(endpoint, s.AllowPrivateEndpoints); err != nil {
			return "", err
		}
	}
	now := s.Clock.Now()
	var secret string
	err := s.DB.Tx(ctx, func(tx *store.Tx) error {
		found, err := s.rows().setEndpoint(ctx, tx, id, endpoint)
		if err != nil {
			return fmt.Errorf("set endpoint: %w", err)
		}
		if !found {
			return ErrPartnerNotFound
		}
		have, err := s.activeSecrets(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if endpoint != "" && len(have) == 0 {
			if secret, err = NewSecret(); err != nil {
				return err
			}
			if err := s.insertSecret(ctx, tx, id, now, secret); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, actor, "partner.endpoint_changed", map[string]string{"partner_id": id}, nil)
	})
	return secret, err
}

// RotateSecret creates a new webhook secret for the partner. The old
// secrets keep signing alongside it until grace has passed, so receivers can
// switch without dropping a message. It returns the new secret, shown once.
func (s *Store) RotateSecret(ctx context.Context, actor, id string, grace time.Duration) (string, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if p.EndpointURL == "" {
		return "", api.New(http.StatusUnprocessableEntity, "no_endpoint", "partner %s has no webhook endpoint", id)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	now := s.Clock.Now()
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().expireSecrets(ctx, tx, id, now, now.Add(grace)); err != nil {
			return fmt.Errorf("expire old secrets: %w", err)
		}
		if err := s.insertSecret(ctx, tx, id, now, secret); err != nil {
			return err
		}
		return s.record(ctx, tx, actor, "partner.secret_rotated", map[string]string{"partner_id": id},
			map[string]string{"grace": grace.String()})
	})
	if err != nil {
		return "", fmt.Errorf("rotate secret: %w", err)
	}
	return secret, nil
}

// CreateKey issues an API key. A reseller key is bound to partnerID, which
// must be a reseller; finance, admin and privacy keys take none. The key is returned
// once; only its SHA-256 is stored.
func (s *Store) CreateKey(ctx context.Context, actor string, role Role, partnerID string) (Key, string, error) {
	if role == RoleReseller {
		p, err := s.Get(ctx, partnerID)
		if err != nil {
			return Key{}, "", err
		}
		if p.Kind != KindReseller {
			return Key{}, "", api.New(http.StatusUnprocessableEntity, "not_a_reseller", "partner %s is a %s, not a reseller", partnerID, p.Kind)
		}
	} else if partnerID != "" {
		return Key{}, "", api.New(http.StatusUnprocessableEntity, "unexpected_partner", "only reseller keys are bound to a partner")
	}
	secret, err := newKeySecret(role)
	if err != nil {
		return Key{}, "", err
	}
	k := Key{ID: base.NewID("key_"), Role: role, PartnerID: partnerID, CreatedAt: s.Clock.Now()}
	h := sha256.Sum256([]byte(secret))
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := s.rows().insertKey(ctx, tx, insertKeyParams{ID: k.ID, Role: k.Role, PartnerID: partnerID, Hash: h[:],
			CreatedAt: k.CreatedAt}); err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		return s.record(ctx, tx, actor, "key.created", map[string]string{"key_id": k.ID, "partner_id": partnerID},
			map[string]string{"role": string(role)})
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	return k, secret, nil
}

// RevokeKey revokes a key at once. It fails with ErrKeyNotFound for an
// unknown or already revoked key.
func (s *Store) RevokeKey(ctx context.Context, actor, id string) error {
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		found, err := s.rows().revokeKey(ctx, tx, id, s.Clock.Now())
		if err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		if !found {
			return ErrKeyNotFound
		}
		return s.record(ctx, tx, actor, "key.revoked", map[string]string{"key_id": id}, nil)
	})
}

// Keys lists every API key record, oldest first.
func (s *Store) Keys(ctx context.Context) ([]Key, error) {
	rows, err := s.rows().keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]Key, len(rows))
	for i, r := range rows {
		k := Key{ID: r.ID, Role: Role(r.Role), CreatedAt: r.CreatedAt.Time}
		if r.PartnerID != nil {
			k.PartnerID = *r.PartnerID
		}
		if !r.RevokedAt.IsZero() {
			t := r.RevokedAt.Time
			k.RevokedAt = &t
		}
		out[i] = k
	}
	return out, nil
}

// Authenticate returns the principal of a presented API key. A malformed,
// unknown or revoked key, or a key of a disabled reseller, is
// ErrUnauthorized.
func (s *Store) Authenticate(ctx context.Context, key string) (Principal, error) {
	if !wellFormedKey(key) {
		return Principal{}, api.ErrUnauthorized
	}
	h := sha256.Sum256([]byte(key))
	r, ok, err := s.rows().keyByHash(ctx, h[:])
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !ok || r.Revoked {
		return Principal{}, api.ErrUnauthorized
	}
	return Principal{KeyID: r.ID, Role: Role(r.Role), PartnerID: r.PartnerID}, nil
}

// KeyPrincipal returns the principal of a key by its id while the key is
// live: a revoked key, or a key of a disabled reseller, is ErrUnauthorized.
// A console session asks it on every page, so that revoking a key ends the
// sessions it opened.
func (s *Store) KeyPrincipal(ctx context.Context, keyID string) (Principal, error) {
	r, ok, err := s.rows().keyByID(ctx, keyID)
	if err != nil {
		return Principal{}, fmt.Errorf("key principal: %w", err)
	}
	if !ok || r.Revoked {
		return Principal{}, api.ErrUnauthorized
	}
	return Principal{KeyID: r.ID, Role: Role(r.Role), PartnerID: r.PartnerID}, nil
}
