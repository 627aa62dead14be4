package partners

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/milestone/husky/api"
)

// ValidateEndpoint checks a webhook URL. Unless allowPrivate, it must be
// https, and its host is judged on the address it means: a name of the
// local host or an internal zone, or an IP address in any spelling a
// resolver accepts (127.1, 0x7f000001, 2130706433, 017700000001, 0) that
// falls in the forbidden table, is refused. Host names are checked again at
// dial time by the dispatcher (DialControl), since DNS can change after
// configuration.
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
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || internalName(host) {
		return bad("names an internal host")
	}
	if ip, ok := HostAddr(host); ok {
		if ForbiddenAddr(ip) {
			return bad("names a loopback, private, link-local, metadata or otherwise special-purpose address")
		}
	} else if numericLooking(host) {
		return bad("names a host that is neither a valid address nor a name")
	}
	return nil
}

// internalName reports whether a (lowercase, trailing dot removed) host
// name belongs to the local host or a zone that never leaves a site.
func internalName(host string) bool {
	if host == "localhost" {
		return true
	}
	for _, zone := range []string{".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan"} {
		if strings.HasSuffix(host, zone) {
			return true
		}
	}
	return false
}

// HostAddr returns the IP address a URL host means, if it is one: IPv6
// (with any zone removed), dotted IPv4, or the older forms resolvers still
// accept as IPv4 (inet_aton): one to four parts, each decimal, octal with a
// leading 0 or hex with 0x, the last filling the remaining bytes.
func HostAddr(host string) (netip.Addr, bool) {
	h := strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.WithZone(""), true
	}
	return inetAton(h)
}

func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base != 10 {
			if base == 16 {
				return netip.Addr{}, false
			}
			digits = "0"
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// numericLooking reports whether host is made only of hex digits, x and
// dots with a digit first: not a valid address (it did not parse), and not
// a name either, since top-level domains are never numeric.
func numericLooking(host string) bool {
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" || last[0] < '0' || last[0] > '9' {
		return false
	}
	for _, r := range last {
		if !strings.ContainsRune("0123456789abcdefx", r) {
			return false
		}
	}
	return true
}

// ForbiddenAddr reports whether ip is an address a webhook must never
// reach: any block of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries, multicast, and the IPv4-mapped, IPv4-compatible, 6to4 and
// NAT64 forms of a forbidden IPv4 address, and every IPv4-compatible one
// (see forbidden).
func ForbiddenAddr(ip netip.Addr) bool {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return ForbiddenAddr(ip.Unmap())
	}
	for _, f := range forbidden {
		if f.prefix.Contains(ip) {
			if f.embedded != nil {
				return ForbiddenAddr(f.embedded(ip))
			}
			return true
		}
	}
	return false
}

// block is one entry of the forbidden table. A block that carries an IPv4
// address (6to4, NAT64, IPv4-compatible) is judged on that address.
type block struct {
	prefix   netip.Prefix
	why      string
	embedded func(netip.Addr) netip.Addr
}

func v4At(ip netip.Addr, off int) netip.Addr {
	b := ip.As16()
	return netip.AddrFrom4([4]byte(b[off : off+4]))
}

// forbidden is the one table of addresses webhooks may not reach. From
// the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and later),
// the IPv6 one, and the multicast ranges; the first block that contains an
// address decides. Webhook receivers live in none of them, so even the
// blocks the registries call globally reachable (AS112, AMT) are refused.
var forbidden = []block{
	// IPv4.
	{prefix: netip.MustParsePrefix("0.0.0.0/8"), why: "this network (RFC 791)"},
	{prefix: netip.MustParsePrefix("10.0.0.0/8"), why: "private use (RFC 1918)"},
	{prefix: netip.MustParsePrefix("100.64.0.0/10"), why: "shared address space (RFC 6598)"},
	{prefix: netip.MustParsePrefix("127.0.0.0/8"), why: "loopback (RFC 1122)"},
	{prefix: netip.MustParsePrefix("169.254.0.0/16"), why: "link local, cloud metadata (RFC 3927)"},
	{prefix: netip.MustParsePrefix("172.16.0.0/12"), why: "private use (RFC 1918)"},
	{prefix: netip.MustParsePrefix("192.0.0.0/24"), why: "IETF protocol assignments (RFC 6890)"},
	{prefix: netip.MustParsePrefix("192.0.2.0/24"), why: "documentation, TEST-NET-1 (RFC 5737)"},
	{prefix: netip.MustParsePrefix("192.31.196.0/24"), why: "AS112-v4 (RFC 7535)"},
	{prefix: netip.MustParsePrefix("192.52.193.0/24"), why: "AMT (RFC 7450)"},
	{prefix: netip.MustParsePrefix("192.88.99.0/24"), why: "deprecated 6to4 relay anycast (RFC 7526)"},
	{prefix: netip.MustParsePrefix("192.168.0.0/16"), why: "private use (RFC 1918)"},
	{prefix: netip.MustParsePrefix("192.175.48.0/24"), why: "direct delegation AS112 service (RFC 7534)"},
	{prefix: netip.MustParsePrefix("198.18.0.0/15"), why: "benchmarking (RFC 2544)"},
	{prefix: netip.MustParsePrefix("198.51.100.0/24"), why: "documentation, TEST-NET-2 (RFC 5737)"},
	{prefix: netip.MustParsePrefix("203.0.113.0/24"), why: "documentation, TEST-NET-3 (RFC 5737)"},
	{prefix: netip.MustParsePrefix("224.0.0.0/4"), why: "multicast (RFC 5771)"},
	{prefix: netip.MustParsePrefix("240.0.0.0/4"), why: "reserved (RFC 1112), with limited broadcast 255.255.255.255"},
	// IPv6.
	{prefix: netip.MustParsePrefix("::/128"), why: "unspecified (RFC 4291)"},
	{prefix: netip.MustParsePrefix("::1/128"), why: "loopback (RFC 4291)"},
	{prefix: netip.MustParsePrefix("::/96"), why: "IPv4-compatible, deprecated and never routed (RFC 4291)"},
	{prefix: netip.MustParsePrefix("::ffff:0:0:0/96"), why: "IPv4-translated, SIIT (RFC 2765)"},
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), why: "IPv4/IPv6 translation, NAT64 (RFC 6052)",
		embedded: func(ip netip.Addr) netip.Addr { return v4At(ip, 12) }},
	{prefix: netip.MustParsePrefix("64:ff9b:1::/48"), why: "local-use IPv4/IPv6 translation (RFC 8215)"},
	{prefix: netip.MustParsePrefix("100::/64"), why: "discard-only (RFC 6666)"},
	{prefix: netip.MustParsePrefix("100:0:0:1::/64"), why: "dummy IPv6 prefix (RFC 9780)"},
	{prefix: netip.MustParsePrefix("2001::/23"), why: "IETF protocol assignments, Teredo included (RFC 2928, 4380)"},
	{prefix: netip.MustParsePrefix("2001:db8::/32"), why: "documentation (RFC 3849)"},
	{prefix: netip.MustParsePrefix("2002::/16"), why: "6to4 (RFC 3056)",
		embedded: func(ip netip.Addr) netip.Addr { return v4At(ip, 2) }},
	{prefix: netip.MustParsePrefix("2620:4f:8000::/48"), why: "direct delegation AS112 service (RFC 7534)"},
	{prefix: netip.MustParsePrefix("3fff::/20"), why: "documentation (RFC 9637)"},
	{prefix: netip.MustParsePrefix("5f00::/16"), why: "segment routing SIDs (RFC 9602)"},
	{prefix: netip.MustParsePrefix("fc00::/7"), why: "unique local (RFC 4193), fd00:ec2::254 metadata included"},
	{prefix: netip.MustParsePrefix("fe80::/10"), why: "link-local unicast (RFC 4291)"},
	{prefix: netip.MustParsePrefix("fec0::/10"), why: "site-local, deprecated (RFC 3879)"},
	{prefix: netip.MustParsePrefix("ff00::/8"), why: "multicast (RFC 4291)"},
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
	if raw == "" {
		return ""
	}
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
