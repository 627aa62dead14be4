package partners

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/milestone/husky/api"
)

// ValidateEndpoint checks a webhook URL. Unless allowPrivate, it must be
// https and its host must not be a loopback, private, link-local, metadata
// or otherwise internal address (a webhook must not become a way into our
// own network). Host names are checked again at dial time by the dispatcher,
// since DNS can change after configuration.
func ValidateEndpoint(raw string, allowPrivate bool) error {
	bad := func(why string) error {
		return api.New(http.StatusUnprocessableEntity, "invalid_endpoint", "endpoint URL %s", why)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return bad("is not an absolute URL")
	}
	if u.User != nil {
		return bad("must not carry credentials")
	}
	if allowPrivate {
		if u.Scheme != "https" && u.Scheme != "http" {
			return bad("must be http or https")
		}
		return nil
	}
	if u.Scheme != "https" {
		return bad("must be https")
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") {
		return bad("names an internal host")
	}
	if ip, err := netip.ParseAddr(host); err == nil && ForbiddenAddr(ip) {
		return bad("names a loopback, private, link-local or metadata address")
	}
	return nil
}

// ForbiddenAddr reports whether ip is an address a webhook must never reach:
// unspecified, loopback, private (RFC 1918, RFC 4193), link-local (which
// holds the cloud metadata service 169.254.169.254), shared (RFC 6598),
// multicast, or an IPv4-mapped form of any of these.
func ForbiddenAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// DialControl is a net.Dialer Control function that refuses forbidden
// addresses: it sees the address actually dialled, after DNS resolution.
func DialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if ForbiddenAddr(ip) {
		return &net.AddrError{Err: "webhook endpoint resolves to a forbidden address", Addr: host}
	}
	return nil
}

// RedactURL returns u fit for a log line, an attempt's error or an API
// answer: without credentials and fragment, and with every query value
// replaced, since receivers often authenticate with a token in the query
// string. Only the partner record shows the whole URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// RedactError returns err's text with every form of endpoint's query
// string and credentials taken out (Go's HTTP client names the whole URL in
// its errors).
func RedactError(err error, endpoint string) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		cp.URL = RedactURL(ue.URL)
		msg = cp.Error()
	}
	if u, perr := url.Parse(endpoint); perr == nil {
		for _, s := range []string{u.RawQuery, u.Query().Encode(), u.Fragment, u.User.String()} {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "REDACTED")
			}
		}
	}
	return msg
}
