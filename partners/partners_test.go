package partners

import (
	"context"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store/storetest"
)

func TestParseFieldsAllowsOnlyPhoneEmailAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "phone,email,address", false},
		{"phone", "phone", false},
		{"address, EMAIL", "email,address", false},
		{"phone,phone", "phone", false},
		{"name", "", true},
		{"phone,notes", "", true},
		{"customer.name", "", true},
		{"reference", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFields(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && FieldsString(got) != tt.want {
				t.Errorf("got %s, want %s", FieldsString(got), tt.want)
			}
		})
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	k, err := keyring.Load(filepath.Join(t.TempDir(), "husky.db.keys"))
	if err != nil {
		t.Fatal(err)
	}
	return &Store{DB: storetest.Open(t), AllowPrivateEndpoints: true, Sealer: k}
}

func TestAddRefusesFieldsOutsideAllowList(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, _, err := s.Add(context.Background(), "test", NewPartner{Kind: KindLogistics, Name: "PostNord", EndpointURL: "http://127.0.0.1:1/hook", Fields: "phone,name"})
	if api.From(err).Status != http.StatusUnprocessableEntity {
		t.Fatalf("err = %v, want 422", err)
	}
	ps, _ := s.List(context.Background())
	if len(ps) != 0 {
		t.Errorf("%d partners stored after a refused add", len(ps))
	}
}

func TestKeysAuthenticateByRoleAndRevoke(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r, _, err := s.Add(ctx, "test", NewPartner{Kind: KindReseller, Name: "Reseller"})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := s.CreateKey(ctx, "test", RoleReseller, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, secret)
	if err != nil || p.Role != RoleReseller || p.PartnerID != r.ID || p.KeyID != k.ID {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	unknown, err := newKeySecret(RoleReseller)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{
		"malformed": "hello",
		"unknown":   unknown,
		"truncated": secret[:20],
	} {
		if _, err := s.Authenticate(ctx, key); err != api.ErrUnauthorized {
			t.Errorf("%s key: %v, want ErrUnauthorized", name, err)
		}
	}
	if err := s.RevokeKey(ctx, "test", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); err != api.ErrUnauthorized {
		t.Errorf("revoked key: %v", err)
	}
	// Only the hash is stored.
	var n int
	if err := s.DB.Reader.Get(&n, `SELECT COUNT(*) FROM api_keys WHERE hash = $1 OR CAST(hash AS TEXT) = $2`, secret, secret); err != nil || n != 0 {
		t.Errorf("the key itself is stored (%d, %v)", n, err)
	}
	if _, _, err := s.CreateKey(ctx, "test", RoleFinance, r.ID); err == nil {
		t.Error("a finance key bound to a partner was created")
	}
	m, _, _ := s.Add(ctx, "test", NewPartner{Kind: KindManufacturer, Name: "Maker", EndpointURL: "http://127.0.0.1:1/"})
	if _, _, err := s.CreateKey(ctx, "test", RoleReseller, m.ID); err == nil {
		t.Error("a reseller key bound to a manufacturer was created")
	}
}

func TestSignatureVerifiesWithReferenceLibrary(t *testing.T) {
	t.Parallel()
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"order.created","data":{"order_id":"ord_1"}}`)
	h := http.Header{}
	now := time.Now()
	if err := SetHeaders(h, []string{secret}, "msg_1", now, body); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("reference library refuses our signature: %v", err)
	}
	if err := Verify([]string{secret}, h, body, now); err != nil {
		t.Errorf("own verify: %v", err)
	}
	// What the reference library signs, we verify.
	sig, err := wh.Sign("msg_2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h2 := headers("msg_2", h.Get(HeaderTimestamp), sig)
	if err := Verify([]string{secret}, h2, body, now); err != nil {
		t.Errorf("verify reference signature: %v", err)
	}
}

func TestRotatedSecretsSignSideBySide(t *testing.T) {
	t.Parallel()
	oldS, _ := NewSecret()
	newS, _ := NewSecret()
	body := []byte(`{}`)
	h := http.Header{}
	now := time.Now()
	if err := SetHeaders(h, []string{newS, oldS}, "msg_1", now, body); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{oldS, newS} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("a receiver holding one of the secrets refuses: %v", err)
		}
	}
}

func TestVerifyRefusesTamperedStaleAndUnsigned(t *testing.T) {
	t.Parallel()
	secret, _ := NewSecret()
	other, _ := NewSecret()
	body := []byte(`{"a":1}`)
	now := time.Now()
	signed := func(ts time.Time) http.Header {
		h := http.Header{}
		if err := SetHeaders(h, []string{secret}, "msg_1", ts, body); err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"refuses_unsigned", http.Header{}, body, ErrMissingHeaders},
		{"refuses_tampered_body", signed(now), []byte(`{"a":2}`), ErrBadSignature},
		{"refuses_stale", signed(now.Add(-6 * time.Minute)), body, ErrStale},
		{"refuses_future", signed(now.Add(6 * time.Minute)), body, ErrStale},
		{"refuses_malformed_timestamp", headers("x", "soon", "v1,AA=="), body, ErrBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := Verify([]string{secret}, tt.h, tt.body, now); err != tt.want {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := Verify([]string{other}, signed(now), body, now); err != ErrBadSignature {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestValidateEndpointRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/",
		"https://192.168.1.1/", "https://172.16.0.1/", "https://169.254.169.254/latest/meta-data", "https://[::1]/",
		"https://[fd00::1]/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/", "https://100.64.0.1/", "https://user:pw@example.com/",
		"not a url", "ftp://example.com/",
	} {
		if err := ValidateEndpoint(u, false); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/husky", "https://93.184.216.34:8443/x"} {
		if err := ValidateEndpoint(u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if err := ValidateEndpoint("http://127.0.0.1:9999/hook", true); err != nil {
		t.Errorf("private endpoint refused although allowed: %v", err)
	}
	if !ForbiddenAddr(netip.MustParseAddr("::ffff:10.0.0.1")) {
		t.Error("IPv4-mapped private address allowed")
	}
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	return h
}
