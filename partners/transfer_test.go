package partners

import "testing"

func TestTransfersOutsideTheEEANeedASafeguard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		country, basis string
		ok             bool
	}{
		{"", "", true}, {"DK", "eea", true}, {"no", "EEA", true}, {"DE", "", true},
		{"US", "eea", false}, {"US", "", false}, {"US", "scc", true}, {"US", "adequacy", true},
		{"GB", "adequacy", true}, {"CN", "adequacy", false}, {"CN", "bcr", true}, {"IN", "scc", true},
		{"XX1", "scc", false}, {"DK", "consent", false}, {"CH", "adequacy", true},
	} {
		c, b, err := CheckTransfer(tc.country, tc.basis)
		if (err == nil) != tc.ok {
			t.Errorf("%q/%q: %v, want ok=%v", tc.country, tc.basis, err, tc.ok)
		}
		if err == nil && (len(c) != 2 || b == "") {
			t.Errorf("%q/%q normalised to %q/%q", tc.country, tc.basis, c, b)
		}
	}
}
