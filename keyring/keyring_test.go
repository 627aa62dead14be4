package keyring

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
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

func TestRotateSealsWithTheNewVersionAndPruneSparesWhatIsInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k.keys")
	k, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := k.Seal([]byte("v1 value"), nil)
	now := time.Now()
	v, err := k.Rotate(now)
	if err != nil || v != 2 || k.Current() != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	fresh, _ := k.Seal([]byte("v2 value"), nil)
	if id, _ := VersionOf(fresh); id != 2 {
		t.Errorf("sealed with version %d after the rotation", id)
	}
	if got, err := k.Open(old, nil); err != nil || string(got) != "v1 value" {
		t.Errorf("a retired version no longer opens: %v", err)
	}
	// Another process sees the rotation without a restart.
	other, err := Load(path)
	if err != nil || other.Current() != 2 {
		t.Fatalf("reload: %v", err)
	}
	if gone, _ := k.Prune(now.Add(time.Hour), map[uint32]bool{1: true}); len(gone) != 0 {
		t.Errorf("pruned %v, which is in use", gone)
	}
	if gone, _ := k.Prune(now.Add(-time.Hour), nil); len(gone) != 0 {
		t.Errorf("pruned %v before its retention ended", gone)
	}
	gone, err := k.Prune(now.Add(time.Hour), nil)
	if err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if _, err := k.Open(old, nil); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("a pruned version still opens: %v", err)
	}
	if changed, err := other.Reload(); err != nil || !changed || other.Has(1) {
		t.Errorf("the other process did not see the prune: %v %v", changed, err)
	}
}

// Two processes on one keyring (the service and an operator's command)
// each change it from what the file holds, never from a stale copy: a
// rotation is not undone by the other's prune, and two rotations make two
// versions, not two different keys of one version.
func TestChangesByTwoProcessesNeverOverwriteEachOther(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "husky.keys")
	service, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	operator, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := service.Seal([]byte("value"), []byte("row:1"))
	v2, err := operator.Rotate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealedByOperator, _ := operator.Seal([]byte("later"), []byte("row:2"))
	// The service has not reloaded: it still thinks version 1 is current.
	v3, err := service.Rotate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v2 != 2 || v3 != 3 {
		t.Fatalf("rotations made versions %d and %d, want 2 and 3", v2, v3)
	}
	// A prune that may drop every retired version but version 1, which a
	// live value still needs.
	if _, err := operator.Prune(time.Now().Add(time.Hour), map[uint32]bool{1: true}); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Current() != 3 || !again.Has(1) || again.Has(2) {
		t.Errorf("keyring after both: current %d, has 1 %v, has 2 %v; want 3, true, false", again.Current(), again.Has(1), again.Has(2))
	}
	if got, err := again.Open(ct, []byte("row:1")); err != nil || string(got) != "value" {
		t.Errorf("version 1 value: %q, %v", got, err)
	}
	// Version 2 was pruned: what it sealed is gone, as pruning means.
	if _, err := again.Open(sealedByOperator, []byte("row:2")); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("a value of the pruned version: %v, want ErrUnknownVersion", err)
	}
}

// TestOpenReadsARotationByAnotherProcess: one of several instances rotates
// the shared file and seals with the new version; another, which read the
// file before, opens the value at once instead of failing until its next
// periodic reload. A version that is in no file stays unknown.
func TestOpenReadsARotationByAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "husky.keys")
	leader, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	follower, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Rotate(time.Now()); err != nil {
		t.Fatal(err)
	}
	ct, err := leader.Seal([]byte("value"), []byte("row:1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := follower.Open(ct, []byte("row:1")); err != nil || string(got) != "value" {
		t.Fatalf("follower opened %q, %v", got, err)
	}
	if follower.Current() != 2 {
		t.Errorf("follower's current version %d after reading the rotation, want 2", follower.Current())
	}
	forged := append([]byte(nil), ct...)
	forged[3] = 9 // version 9 exists nowhere
	if id, _ := VersionOf(forged); id == 2 {
		t.Fatal("the test did not change the version")
	}
	if _, err := follower.Open(forged, []byte("row:1")); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestAForeignKeyringIsNeverAdopted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	k, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := k.Seal([]byte("secret"), []byte("aad"))
	ours, _ := os.ReadFile(path)
	// Another installation's keyring is put in its place.
	other, err := Load(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	if other.ID() == k.ID() || k.ID() == "" {
		t.Fatalf("identities %q and %q", k.ID(), other.ID())
	}
	foreign, _ := os.ReadFile(filepath.Join(dir, "other"))
	if err := os.WriteFile(path, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(); !errors.Is(err, ErrForeign) {
		t.Errorf("reloading a foreign keyring: %v, want ErrForeign", err)
	}
	if got, err := k.Open(sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Errorf("after refusing it, the keyring no longer opens its own: %q %v", got, err)
	}
	if _, err := k.Rotate(time.Now()); !errors.Is(err, ErrForeign) {
		t.Errorf("rotating onto a foreign file: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(foreign) {
		t.Error("the refused rotation wrote the file")
	}
	// The same keyring with one key changed is not this keyring either.
	var f file
	if err := json.Unmarshal(ours, &f); err != nil {
		t.Fatal(err)
	}
	f.Versions[0].Key[0] ^= 1
	f.Versions[0].Check = checkValue(f.Versions[0].Key)
	b, _ := json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(); !errors.Is(err, ErrForeign) {
		t.Errorf("reloading a changed key: %v, want ErrForeign", err)
	}
	// A key that does not match its own check value is refused at load.
	f.Versions[0].Key[1] ^= 1
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrForeign) {
		t.Errorf("loading a key that fails its check value: %v", err)
	}
	// Its own file back: reloads.
	if err := os.WriteFile(path, ours, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(); err != nil {
		t.Errorf("its own file: %v", err)
	}
}

func TestAKeyringFromBeforeIdentitiesGetsOne(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	v, _ := newVersion(1)
	v.Check = ""
	b, _ := json.Marshal(file{Format: format, Versions: []Version{v}, LookupKey: randomKey()})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	b, _ = os.ReadFile(path)
	if err := json.Unmarshal(b, &f); err != nil || f.ID == "" || f.ID != k.ID() || f.Versions[0].Check != checkValue(v.Key) {
		t.Errorf("upgraded file: id %q (keyring %q), check %q", f.ID, k.ID(), f.Versions[0].Check)
	}
}

func TestRotateLookupKeepsTheOldKeyMatchingUntilPruned(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	k, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Load(path) // another process on the same file
	if err != nil {
		t.Fatal(err)
	}
	before := k.Hash("email", "jane@example.dk")
	v, err := k.RotateLookup(time.Now().Add(-48 * time.Hour))
	if err != nil || v != 2 || k.LookupVersion() != 2 {
		t.Fatalf("rotate lookup: %d %v", v, err)
	}
	after := k.Hash("email", "jane@example.dk")
	if bytes.Equal(before, after) {
		t.Fatal("the hash did not change")
	}
	if hs := k.Hashes("email", "jane@example.dk"); len(hs) != 2 || !bytes.Equal(hs[0], after) || !bytes.Equal(hs[1], before) {
		t.Errorf("hashes under every key: %x", hs)
	}
	// The other process adopts the rotation: the same keyring.
	if changed, err := other.Reload(); err != nil || !changed || !bytes.Equal(other.Hash("email", "jane@example.dk"), after) {
		t.Errorf("reload after a lookup rotation: %v %v", changed, err)
	}
	if gone, err := k.PruneLookup(time.Now(), map[uint32]bool{1: true}); err != nil || len(gone) != 0 {
		t.Errorf("pruned a lookup key in use: %v %v", gone, err)
	}
	if gone, err := k.PruneLookup(time.Now(), nil); err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Errorf("prune: %v %v", gone, err)
	}
	if hs := k.Hashes("email", "jane@example.dk"); len(hs) != 1 {
		t.Errorf("after pruning, %d keys still hash", len(hs))
	}
	if _, err := other.Reload(); err != nil {
		t.Errorf("reload after pruning: %v", err)
	}
}
