package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/milestone/husky/store"
)

// buildBinary builds cmd/husky into dir and returns its path.
func buildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "husky")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/milestone/husky/cmd/husky")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build husky: %w", err)
	}
	return bin, nil
}

// world is a database with a reseller, two recipients and keys.
type world struct {
	bin                     string
	env                     []string
	db                      string
	reseller, logistics     string
	manufacturer            string
	resellerKey, financeKey string
	adminKey                string
}

// newWorld migrates a SQLite database in dir and adds the partners, the
// two recipients pointing at rc under /logistics and /manufacturer.
func newWorld(bin, dir string, rc *receiver, extraEnv ...string) (*world, error) {
	return newWorldOn(bin, dir, filepath.Join(dir, "husky.db"), rc, extraEnv...)
}

// newWorldOn is newWorld on the database dsn: a SQLite file, or a
// PostgreSQL URL, with the keyring and audit key in dir.
func newWorldOn(bin, dir, dsn string, rc *receiver, extraEnv ...string) (*world, error) {
	w := &world{bin: bin, db: dsn}
	// The rate limit is off: the load generators send far more than 100
	// requests a second with one key (see the table's heading).
	w.env = append([]string{"HUSKY_DB=" + w.db, "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true", "HUSKY_PURGE_DAILY=off", "HUSKY_LOG_FORMAT=json",
		"HUSKY_RATE_LIMIT=off"}, extraEnv...)
	if store.IsURL(dsn) {
		// As several machines run it: the keys in the database, sealed by
		// one root key.
		root := filepath.Join(dir, "root.key")
		if _, err := husky(bin, nil, "keys", "init-root", root); err != nil {
			return nil, err
		}
		w.env = append(w.env, "HUSKY_ROOT_KEY_FILE="+root)
	}
	add := func(args ...string) (string, error) {
		m, err := husky(bin, w.env, append([]string{"partners", "add"}, args...)...)
		if err != nil {
			return "", err
		}
		return m["partner"].(map[string]any)["id"].(string), nil
	}
	var err error
	if w.reseller, err = add("--kind", "reseller", "--name", "Bench Reseller"); err != nil {
		return nil, err
	}
	if w.logistics, err = add("--kind", "logistics", "--name", "Bench Carrier", "--endpoint", rc.url("/logistics")); err != nil {
		return nil, err
	}
	if w.manufacturer, err = add("--kind", "manufacturer", "--name", "Bench Maker", "--endpoint", rc.url("/manufacturer")); err != nil {
		return nil, err
	}
	key := func(args ...string) (string, error) {
		m, err := husky(bin, w.env, append([]string{"keys", "create"}, args...)...)
		if err != nil {
			return "", err
		}
		return m["api_key"].(string), nil
	}
	if w.resellerKey, err = key("--role", "reseller", "--partner", w.reseller); err != nil {
		return nil, err
	}
	if w.financeKey, err = key("--role", "finance"); err != nil {
		return nil, err
	}
	if w.adminKey, err = key("--role", "admin"); err != nil {
		return nil, err
	}
	return w, nil
}

// recipients enables or disables both recipients.
func (w *world) recipients(enabled bool) error {
	verb := "disable"
	if enabled {
		verb = "enable"
	}
	for _, id := range []string{w.logistics, w.manufacturer} {
		if _, err := husky(w.bin, w.env, "partners", verb, id); err != nil {
			return err
		}
	}
	return nil
}
