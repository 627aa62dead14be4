package partners

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds the callback signature verifier arbitrary headers and
// bodies: it must never panic and must accept only what the secret signed.
func FuzzVerify(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "fuzz", "FuzzVerify", "*"))
	if len(files) == 0 {
		f.Fatal("no seeds in testdata/fuzz/FuzzVerify")
	}
	for _, p := range files {
		b, _ := os.ReadFile(p)
		parts := bytes.SplitN(b, []byte("\n"), 4)
		for len(parts) < 4 {
			parts = append(parts, nil)
		}
		f.Add(string(parts[0]), string(parts[1]), string(parts[2]), parts[3])
	}
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1764000000, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if Verify([]string{secret}, h, body, now) != nil {
			return
		}
		// Accepted: one of the signatures must be exactly what the secret
		// makes for this id, timestamp and body.
		sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
		if err != nil {
			t.Fatalf("accepted timestamp %q", ts)
		}
		want, err := Sign([]string{secret}, h.Get(HeaderID), time.Unix(sec, 0), body)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(h.Get(HeaderSignature)), want) {
			t.Fatalf("accepted a signature the secret did not make: %q", sig)
		}
	})
}
