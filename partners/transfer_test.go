package partners

import (
	"strings"
	"testing"
)

func TestTransfersOutsideTheEEANeedASafeguard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		country, basis, framework string
		ok                        bool
	}{
		{"", "", "", true}, {"DK", "eea", "", true}, {"no", "EEA", "", true}, {"DE", "", "", true},
		{"US", "eea", "", false}, {"US", "", "", false}, {"US", "scc", "", true},
		{"GB", "adequacy", "", true}, {"CN", "adequacy", "", false}, {"CN", "bcr", "", true}, {"IN", "scc", "", true},
		{"XX1", "scc", "", false}, {"DK", "consent", "", false}, {"CH", "adequacy", "", true},
		// A partial adequacy decision needs its framework named.
		{"US", "adequacy", "", false}, {"US", "adequacy", "eu-us-dpf", true}, {"US", "adequacy", "EU-US-DPF", true},
		{"CA", "adequacy", "", false}, {"CA", "adequacy", "pipeda", true}, {"US", "adequacy", "pipeda", false},
		{"US", "scc", "eu-us-dpf", false}, {"GB", "adequacy", "eu-us-dpf", false},
	} {
		c, b, f, err := CheckTransfer(tc.country, tc.basis, tc.framework)
		if (err == nil) != tc.ok {
			t.Errorf("%q/%q/%q: %v, want ok=%v", tc.country, tc.basis, tc.framework, err, tc.ok)
		}
		if err == nil && (len(c) != 2 || b == "" || string(f) != strings.ToLower(tc.framework)) {
			t.Errorf("%q/%q/%q normalised to %q/%q/%q", tc.country, tc.basis, tc.framework, c, b, f)
		}
	}
}

func TestTheSafeguardNamesTheFramework(t *testing.T) {
	t.Parallel()
	us := Partner{Country: "US", TransferBasis: TransferAdequacy, AdequacyFramework: "eu-us-dpf"}
	if got := us.Safeguard(); !strings.Contains(got, "EU-US Data Privacy Framework") || !strings.Contains(got, "certified") {
		t.Errorf("US safeguard: %s", got)
	}
	// One recorded before the framework was required says what to check.
	old := Partner{Country: "US", TransferBasis: TransferAdequacy}
	if got := old.Safeguard(); !strings.Contains(got, "not stated") {
		t.Errorf("unstated framework: %s", got)
	}
	if got := (Partner{Country: "GB", TransferBasis: TransferAdequacy}).Safeguard(); got != "adequacy decision (GDPR Art. 45)" {
		t.Errorf("GB: %s", got)
	}
}
