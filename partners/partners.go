// Package partners owns the service's counterparts: resellers who submit
// orders, and the recipients (logistics partner, hardware manufacturer) who
// receive webhooks. It also owns API keys and their roles, authentication,
// webhook secrets, and Standard Webhooks signing and verification.
package partners

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/milestone/husky/api"
)

// Kind is what a partner is to the service.
type Kind string

// The kinds of partner.
const (
	KindReseller     Kind = "reseller"
	KindLogistics    Kind = "logistics"
	KindManufacturer Kind = "manufacturer"
)

// ParseKind returns the Kind named by s, or a problem error for any other.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindReseller, KindLogistics, KindManufacturer:
		return k, nil
	}
	return "", api.New(http.StatusUnprocessableEntity, "invalid_kind", "kind must be reseller, logistics or manufacturer")
}

// IsRecipient reports whether partners of this kind receive order data.
func (k Kind) IsRecipient() bool { return k == KindLogistics || k == KindManufacturer }

// Field is a personal-data field a recipient may receive.
//
// GDPR Art. 5(1)(c), data minimisation: the privacy policy allows only the
// customer's phone, email and delivery address to leave the service, so no
// other Field exists and ParseFields refuses every other name.
type Field string

// The only personal fields that may ever be disclosed.
const (
	FieldPhone   Field = "phone"
	FieldEmail   Field = "email"
	FieldAddress Field = "address"
)

// AllFields is every disclosable field, the default allow-list.
var AllFields = []Field{FieldPhone, FieldEmail, FieldAddress}

// ParseFields parses a comma-separated allow-list. An empty string means all
// fields. Any name outside {phone, email, address} is refused.
func ParseFields(s string) ([]Field, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(AllFields), nil
	}
	var out []Field
	for _, p := range strings.Split(s, ",") {
		f := Field(strings.TrimSpace(strings.ToLower(p)))
		if !slices.Contains(AllFields, f) {
			return nil, api.New(http.StatusUnprocessableEntity, "invalid_field",
				"field %q may not be disclosed: a recipient's allow-list is a subset of phone, email, address (GDPR Art. 5(1)(c))", p)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	// Keep a canonical order so stored lists compare equal.
	slices.SortFunc(out, func(a, b Field) int { return slices.Index(AllFields, a) - slices.Index(AllFields, b) })
	return out, nil
}

// FieldsString renders fields comma-separated.
func FieldsString(fs []Field) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

// Partner is a reseller or a recipient.
type Partner struct {
	ID             string  `json:"id"`
	Kind           Kind    `json:"kind"`
	Name           string  `json:"name"`
	EndpointURL    string  `json:"endpoint_url,omitempty"`
	Fields         []Field `json:"fields,omitempty"`
	Enabled        bool    `json:"enabled"`
	DisabledReason string  `json:"disabled_reason,omitempty"`
	// Country (ISO 3166-1 alpha-2) and TransferBasis say where a
	// recipient is and what makes a transfer there lawful (Art. 44-46).
	Country       string        `json:"country"`
	TransferBasis TransferBasis `json:"transfer_basis"`
	// AdequacyFramework names the framework a partial adequacy decision
	// covers the recipient under (eu-us-dpf for the United States).
	AdequacyFramework Framework `json:"adequacy_framework,omitempty"`
	// Demo marks the partners `husky serve --demo` created.
	Demo      bool      `json:"demo,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Role is what an API key may do.
type Role string

// The roles of API keys.
const (
	RoleReseller Role = "reseller"
	RoleFinance  Role = "finance"
	RoleAdmin    Role = "admin"
	// RolePrivacy is the data-protection officer's: subject requests and
	// the record of processing, nothing else.
	RolePrivacy Role = "privacy"
)

// ParseRole returns the Role named by s, or a problem error for any other.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleReseller, RoleFinance, RoleAdmin, RolePrivacy:
		return r, nil
	}
	return "", api.New(http.StatusUnprocessableEntity, "invalid_role", "role must be reseller, finance, admin or privacy")
}

// Key is an API key's record; the key itself is never stored.
type Key struct {
	ID        string     `json:"id"`
	Role      Role       `json:"role"`
	PartnerID string     `json:"partner_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID     string
	Role      Role
	PartnerID string
}

// Actor names the principal in the audit trail: ids, never names.
func (p Principal) Actor() string { return "key:" + p.KeyID }

// Errors returned by this package.
var (
	ErrPartnerNotFound = api.New(http.StatusNotFound, "partner_not_found", "no such partner")
	ErrKeyNotFound     = api.New(http.StatusNotFound, "key_not_found", "no such API key")
)
