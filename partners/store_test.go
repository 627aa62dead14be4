package partners

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// The conformance suite of partnerRows: every method, against the engine
// this half of the suite runs on (make test runs it on both), with what
// each must read back.
func TestStorePartnerRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	q := partnerRows{db}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tx := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx *store.Tx) error {
		for _, p := range []Partner{
			{ID: "ptn_r", Kind: KindReseller, Name: "Reseller", Country: "DK", TransferBasis: "eea", CreatedAt: t0},
			{ID: "ptn_l", Kind: KindLogistics, Name: "Carrier", EndpointURL: "https://l.example/hook", Fields: []Field{FieldPhone, FieldAddress},
				Country: "DE", TransferBasis: "eea", CreatedAt: t0.Add(time.Second)},
		} {
			if err := q.insert(ctx, tx, p); err != nil {
				return err
			}
		}
		if err := q.insertKey(ctx, tx, insertKeyParams{ID: "key_r", Role: RoleReseller, PartnerID: "ptn_r", Hash: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		if err := q.insertKey(ctx, tx, insertKeyParams{ID: "key_f", Role: RoleFinance, Hash: []byte{2}, CreatedAt: t0.Add(time.Second)}); err != nil {
			return err
		}
		for i, s := range []string{"whsec_old", "sealed:abc"} {
			if err := q.insertSecret(ctx, tx, "ptn_l", s, store.FormatTime(t0.Add(time.Duration(i)*time.Hour))); err != nil {
				return err
			}
		}
		return nil
	})
	if r, ok, err := q.get(ctx, db.Reader, "ptn_l"); err != nil || !ok || r.Fields != "phone,address" || !r.Enabled || r.Country != "DE" || !r.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("get: %+v %v %v", r, ok, err)
	}
	if _, ok, err := q.get(ctx, db.Reader, "ptn_none"); ok || err != nil {
		t.Errorf("get of none: %v %v", ok, err)
	}
	if all, err := q.list(ctx, db.Reader, false); err != nil || len(all) != 2 || all[0].ID != "ptn_r" {
		t.Errorf("list: %+v %v", all, err)
	}
	if rs, err := q.list(ctx, db.Reader, true); err != nil || len(rs) != 1 || rs[0].ID != "ptn_l" {
		t.Errorf("list of recipients: %+v %v", rs, err)
	}
	if ids, err := q.deliverable(ctx); err != nil || !slices.Equal(ids, []string{"ptn_l"}) {
		t.Errorf("deliverable: %v %v", ids, err)
	}
	if r, ok, err := q.keyByHash(ctx, []byte{1}); err != nil || !ok || r.ID != "key_r" || r.PartnerID != "ptn_r" || r.Revoked {
		t.Errorf("keyByHash: %+v %v %v", r, ok, err)
	}
	if r, ok, err := q.keyByID(ctx, "key_f"); err != nil || !ok || r.Role != string(RoleFinance) || r.PartnerID != "" {
		t.Errorf("keyByID: %+v %v %v", r, ok, err)
	}
	if _, ok, err := q.principal(ctx, sqlKeyByID, "key_none"); ok || err != nil {
		t.Errorf("principal of none: %v %v", ok, err)
	}
	tx(func(tx *store.Tx) error {
		if found, err := q.setEnabled(ctx, tx, "ptn_r", false, "operator"); err != nil || !found {
			t.Errorf("setEnabled: %v %v", found, err)
		}
		if found, err := q.setEnabled(ctx, tx, "ptn_none", false, "operator"); err != nil || found {
			t.Errorf("setEnabled of none: %v %v", found, err)
		}
		if found, err := q.setEndpoint(ctx, tx, "ptn_l", ""); err != nil || !found {
			t.Errorf("setEndpoint: %v %v", found, err)
		}
		if found, err := q.revokeKey(ctx, tx, "key_f", t0); err != nil || !found {
			t.Errorf("revokeKey: %v %v", found, err)
		}
		if found, err := q.revokeKey(ctx, tx, "key_f", t0); err != nil || found {
			t.Errorf("revokeKey twice: %v %v", found, err)
		}
		return q.expireSecrets(ctx, tx, "ptn_l", t0.Add(90*time.Minute), t0.Add(2*time.Hour))
	})
	// A disabled reseller's key stops working; a revoked one too.
	if r, _, _ := q.keyByHash(ctx, []byte{1}); !r.Revoked {
		t.Errorf("the key of a disabled reseller: %+v", r)
	}
	if r, _, _ := q.keyByID(ctx, "key_f"); !r.Revoked {
		t.Errorf("a revoked key: %+v", r)
	}
	if ks, err := q.keys(ctx); err != nil || len(ks) != 2 || ks[0].PartnerID == nil || ks[1].RevokedAt.IsZero() {
		t.Errorf("keys: %+v %v", ks, err)
	}
	if ids, _ := q.deliverable(ctx); len(ids) != 0 {
		t.Errorf("deliverable with no endpoint: %v", ids)
	}
	if live, err := q.activeSecrets(ctx, db.Reader, "ptn_l", t0.Add(100*time.Minute)); err != nil || len(live) != 2 || live[0].Secret != "sealed:abc" {
		t.Errorf("activeSecrets within the grace: %+v %v", live, err)
	}
	if live, err := q.activeSecrets(ctx, db.Reader, "ptn_l", t0.Add(3*time.Hour)); err != nil || len(live) != 0 {
		t.Errorf("activeSecrets after the grace: %+v %v", live, err)
	}
	plain, err := q.secrets(ctx, db.Reader, true)
	if err != nil || len(plain) != 1 || plain[0].Secret != "whsec_old" {
		t.Fatalf("secrets in plain text: %+v %v", plain, err)
	}
	tx(func(tx *store.Tx) error { return q.sealSecret(ctx, tx, plain[0], "sealed:def") })
	if all, err := q.secrets(ctx, db.Reader, false); err != nil || len(all) != 2 {
		t.Errorf("secrets: %+v %v", all, err)
	}
	if plain, _ := q.secrets(ctx, db.Reader, true); len(plain) != 0 {
		t.Errorf("secrets in plain text after sealing: %+v", plain)
	}
}
