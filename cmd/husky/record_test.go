package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The record of processing states what the running configuration does,
// not what the code hopes: it is refused while who to contact is a
// placeholder (the default), names the controller's and the DPO's
// contacts, the resellers as sources, the bookkeeping basis of
// retention, and transport encryption as configured.
func TestTheRecordOfProcessingTellsTheTruth(t *testing.T) {
	t.Parallel()
	env := dbEnv(t, filepath.Join(t.TempDir(), "husky.db"))
	var bare []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HUSKY_CONTROLLER_CONTACT=") && !strings.HasPrefix(kv, "HUSKY_DPO_CONTACT=") {
			bare = append(bare, kv)
		}
	}
	husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop One")
	husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", "http://127.0.0.1:9/l",
		"--allow-private-endpoints")
	code, stdout, stderr := runExit(t, bare, "privacy", "record")
	if code == 0 || !strings.Contains(stderr, "HUSKY_DPO_CONTACT") || strings.Contains(stdout, "Record of processing") {
		t.Errorf("the record with placeholder contacts (the default): exit %d: %s%s", code, stdout, stderr)
	}
	rec := husky(t, env, "privacy", "record")
	ctl := rec["controller"].(map[string]any)
	if ctl["contact"] != testControllerContact || ctl["dpo_contact"] != testDPOContact || ctl["name"] != "Milestone Systems A/S" {
		t.Errorf("controller: %v", ctl)
	}
	if src := fmt.Sprint(rec["sources"]); !strings.Contains(src, "Shop One") || strings.Contains(src, "Carrier") {
		t.Errorf("sources: %s", src)
	}
	ret := rec["retention"].(map[string]any)
	if !strings.Contains(fmt.Sprint(ret["legal_basis"]), "Art. 6(1)(c)") || !strings.Contains(fmt.Sprint(ret["legal_basis"]), "bogføringsloven") ||
		!strings.Contains(fmt.Sprint(ret["purpose"]), "Bookkeeping") || !strings.Contains(fmt.Sprint(ret["subject_requests"]), "kept 3 years") {
		t.Errorf("retention: %v", ret)
	}
	measures := fmt.Sprint(rec["technical_and_organisational_measures"])
	for _, want := range []string{"NOT ENCRYPTED", "Encryption at rest per order", "keyring file", "rotated every 720h0m0s", "840h0m0s", "A breach register (Art. 33(5))"} {
		if !strings.Contains(measures, want) {
			t.Errorf("measures without TLS lack %q: %s", want, measures)
		}
	}
	if strings.Contains(measures, "HTTPS served") {
		t.Errorf("the record claims HTTPS the service does not serve: %s", measures)
	}
	behind := husky(t, append(env, "HUSKY_TRUSTED_PROXIES=127.0.0.1", "HUSKY_KEY_ROTATION=off"), "privacy", "record")
	measures = fmt.Sprint(behind["technical_and_organisational_measures"])
	if !strings.Contains(measures, "reverse proxy that ends HTTPS") || strings.Contains(measures, "NOT ENCRYPTED") ||
		!strings.Contains(measures, "rotation is off") {
		t.Errorf("measures behind a proxy, rotation off: %s", measures)
	}
	md := runCLI(t, env, "privacy", "record", "--format", "markdown")
	for _, want := range []string{"## Sources", "Shop One", testDPOContact, "Art. 6(1)(c)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown record lacks %q", want)
		}
	}
}
