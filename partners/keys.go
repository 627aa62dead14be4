package partners

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
)

// keyPrefix makes a leaked key recognisable to secret scanners and people.
const keyPrefix = "husky_"

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newKeySecret returns "husky_<role>_" followed by 32 random bytes in
// lowercase base32.
func newKeySecret(role Role) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return keyPrefix + string(role) + "_" + strings.ToLower(keyEncoding.EncodeToString(b)), nil
}

// wellFormedKey reports whether key has the shape newKeySecret produces, so
// that garbage is refused without a database look-up.
func wellFormedKey(key string) bool {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return false
	}
	role, body, ok := strings.Cut(rest, "_")
	if !ok || len(body) != 52 {
		return false
	}
	if _, err := ParseRole(role); err != nil {
		return false
	}
	_, err := keyEncoding.DecodeString(strings.ToUpper(body))
	return err == nil
}
