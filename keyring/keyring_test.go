package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadCreatesAnOwnerOnlyFileAndReloadsIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "husky.db.keys")
	k, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("keyring mode %v, want 0600", st.Mode().Perm())
	}
	ct, err := k.Seal([]byte("whsec_secret"), []byte("partner:p1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("whsec_secret")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Open(ct, []byte("partner:p1"))
	if err != nil || string(got) != "whsec_secret" {
		t.Fatalf("reloaded keyring opened %q, %v", got, err)
	}
}

func TestOpenRefusesAlteredMovedAndForeignCiphertexts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, err := Load(filepath.Join(dir, "a.keys"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := Load(filepath.Join(dir, "b.keys"))
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := k.Seal([]byte("value"), []byte("row:1"))
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	for name, tc := range map[string]struct {
		ct, aad []byte
		k       *Keyring
		want    error
	}{
		"altered":         {flipped, []byte("row:1"), k, ErrCorrupt},
		"moved_row":       {ct, []byte("row:2"), k, ErrCorrupt},
		"other_keyring":   {ct, []byte("row:1"), other, ErrCorrupt},
		"truncated":       {ct[:5], []byte("row:1"), k, ErrCorrupt},
		"unknown_version": {append([]byte{0, 0, 0, 9}, ct[4:]...), []byte("row:1"), k, ErrUnknownVersion},
	} {
		if _, err := tc.k.Open(tc.ct, tc.aad); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
}

func TestLoadRefusesAFileOthersCanRead(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k.keys")
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Error("a world-readable keyring was accepted")
	}
}
