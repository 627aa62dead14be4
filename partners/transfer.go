package partners

import (
	"net/http"
	"slices"
	"strings"

	"github.com/milestone/husky/api"
)

// TransferBasis is what makes a disclosure to a recipient's country lawful
// (GDPR Chapter V).
type TransferBasis string

// The transfer safeguards.
const (
	// TransferEEA: the recipient is in the European Economic Area; no
	// transfer safeguard is needed.
	TransferEEA TransferBasis = "eea"
	// TransferAdequacy: an adequacy decision covers the country (Art. 45).
	TransferAdequacy TransferBasis = "adequacy"
	// TransferSCC: standard contractual clauses (Art. 46(2)(c)).
	TransferSCC TransferBasis = "scc"
	// TransferBCR: binding corporate rules (Art. 47).
	TransferBCR TransferBasis = "bcr"
)

// Describe names the safeguard as a record of processing or an access
// export states it.
func (b TransferBasis) Describe() string {
	switch b {
	case TransferEEA:
		return "within the EEA, no transfer"
	case TransferAdequacy:
		return "adequacy decision (GDPR Art. 45)"
	case TransferSCC:
		return "standard contractual clauses (GDPR Art. 46(2)(c))"
	case TransferBCR:
		return "binding corporate rules (GDPR Art. 47)"
	}
	return "none"
}

// eea is the European Economic Area: the EU's 27 members with Iceland,
// Liechtenstein and Norway.
var eea = []string{"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
	"LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"}

// adequate are the countries and territories with an adequacy decision of
// the European Commission (Art. 45): Andorra, Argentina, Canada, the Faroe
// Islands, Guernsey, Israel, the Isle of Man, Japan, Jersey, New Zealand,
// the Republic of Korea, Switzerland, the United Kingdom, the United States
// (for organisations certified under the EU-US Data Privacy Framework) and
// Uruguay.
var adequate = []string{"AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "US", "UY"}

// Framework names the part of an adequacy decision a recipient falls under,
// where the decision covers only some organisations of its country.
type Framework string

// frameworks are the partial adequacy decisions: a transfer rests on them
// only for an organisation under the named framework, so a recipient there
// must say which.
var frameworks = map[string]struct {
	name     Framework
	describe string
}{
	// Commission Implementing Decision (EU) 2023/1795: organisations
	// certified under the EU-US Data Privacy Framework.
	"US": {"eu-us-dpf", "EU-US Data Privacy Framework, the recipient certified under it (Decision (EU) 2023/1795)"},
	// Commission Decision 2002/2/EC: organisations subject to PIPEDA.
	"CA": {"pipeda", "commercial organisations subject to PIPEDA (Decision 2002/2/EC)"},
}

// Safeguard names the recipient's transfer safeguard, with its framework,
// as a record of processing or an access export states it.
func (p Partner) Safeguard() string {
	d := p.TransferBasis.Describe()
	if p.TransferBasis != TransferAdequacy {
		return d
	}
	if f, ok := frameworks[p.Country]; ok {
		if p.AdequacyFramework != f.name {
			return d + "; the framework is not stated: check the recipient falls under " + string(f.name)
		}
		return d + ": " + f.describe
	}
	return d
}

// InEEA reports whether country is in the European Economic Area.
func InEEA(country string) bool { return slices.Contains(eea, country) }

// CheckTransfer validates a recipient's country, safeguard and adequacy
// framework: a country outside the EEA needs a safeguard, "eea" only fits a
// country inside it, "adequacy" only one an adequacy decision covers, and
// where that decision covers only organisations under a framework (the
// United States: eu-us-dpf; Canada: pipeda) the framework must be named.
// It returns the normalised values or a problem error.
func CheckTransfer(country, basis, framework string) (string, TransferBasis, Framework, error) {
	bad := func(format string, args ...any) (string, TransferBasis, Framework, error) {
		return "", "", "", api.New(http.StatusUnprocessableEntity, "invalid_transfer", format, args...)
	}
	c := strings.ToUpper(strings.TrimSpace(country))
	if c == "" {
		c = "DK"
	}
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return bad("country must be an ISO 3166-1 alpha-2 code such as DK")
	}
	b := TransferBasis(strings.ToLower(strings.TrimSpace(basis)))
	if b == "" {
		b = TransferEEA
	}
	f := Framework(strings.ToLower(strings.TrimSpace(framework)))
	switch b {
	case TransferEEA:
		if !InEEA(c) {
			return bad("%s is outside the EEA: a transfer there needs a safeguard, --transfer-basis adequacy, scc or bcr (GDPR Art. 44-46)", c)
		}
	case TransferAdequacy:
		if !slices.Contains(adequate, c) {
			return bad("no adequacy decision covers %s: use --transfer-basis scc or bcr", c)
		}
		if want, partial := frameworks[c]; partial && f != want.name {
			return bad("the adequacy decision for %s covers only %s: name it with --adequacy-framework %s, or use --transfer-basis scc or bcr",
				c, want.describe, want.name)
		}
	case TransferSCC, TransferBCR:
	default:
		return bad("transfer basis must be eea, adequacy, scc or bcr")
	}
	if want, partial := frameworks[c]; f != "" && (b != TransferAdequacy || !partial || f != want.name) {
		return bad("--adequacy-framework %s does not fit %s with --transfer-basis %s", f, c, b)
	}
	return c, b, f, nil
}
