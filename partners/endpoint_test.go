package partners

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestEveryForbiddenBlockIsRefusedInEveryForm takes each entry of the one
// table and checks its first address, its last, and for an IPv4 block the
// IPv6 forms that carry it (mapped, compatible, 6to4, NAT64), both as
// ForbiddenAddr sees a dialled address and as ValidateEndpoint sees a URL.
func TestEveryForbiddenBlockIsRefusedInEveryForm(t *testing.T) {
	t.Parallel()
	for _, b := range forbidden {
		t.Run(b.prefix.String(), func(t *testing.T) {
			t.Parallel()
			if b.embedded != nil {
				// Judged on the address inside: a public one passes, a
				// forbidden one does not.
				pub, priv := embed(b.prefix, "93.184.216.34"), embed(b.prefix, "127.0.0.1")
				if ForbiddenAddr(pub) || !ForbiddenAddr(priv) {
					t.Errorf("%s: %s forbidden %v, %s forbidden %v", b.why, pub, ForbiddenAddr(pub), priv, ForbiddenAddr(priv))
				}
				return
			}
			for _, ip := range []netip.Addr{b.prefix.Addr(), last(b.prefix)} {
				if !ForbiddenAddr(ip) {
					t.Errorf("%s (%s) allowed", ip, b.why)
				}
				if err := ValidateEndpoint("https://"+hostOf(ip)+"/hook", false); err == nil {
					t.Errorf("endpoint on %s (%s) accepted", ip, b.why)
				}
				if !ip.Is4() {
					continue
				}
				for _, form := range v6Forms(ip) {
					if !ForbiddenAddr(form) {
						t.Errorf("%s, a form of %s, allowed", form, ip)
					}
					if err := ValidateEndpoint("https://"+hostOf(form)+"/hook", false); err == nil {
						t.Errorf("endpoint on %s, a form of %s, accepted", form, ip)
					}
				}
			}
		})
	}
}

func TestEndpointHostsAreJudgedOnTheAddressTheyMean(t *testing.T) {
	t.Parallel()
	for _, host := range []string{
		"127.1", "0x7f000001", "2130706433", "017700000001", "0", "0.0", "127.0.0.1.", "0x7f.1", "0177.0.0.1",
		"localhost.", "LOCALHOST", "api.localhost.", "metadata.google.internal", "printer.local", "nas.home.arpa",
		"[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
		"[fe80::1%25eth0]", "[fd00:ec2::254]", "169.254.169.254", "0251.0376.0251.0376", "0xa9fea9fe",
		"1.2.3.4.5", "256.1.1.1", "08.1.1.1", "0x", "4294967296",
	} {
		if err := ValidateEndpoint("https://"+host+"/hook", false); err == nil {
			t.Errorf("%s accepted", host)
		}
	}
	for _, host := range []string{"hooks.example.com", "93.184.216.34", "0x5db8d822", "1572395042", "[2606:2800:220:1:248:1893:25c8:1946]",
		"[64:ff9b::5db8:d822]", "[2002:5db8:d822::1]", "123.example.com", "example.com."} {
		if err := ValidateEndpoint("https://"+host+"/hook", false); err != nil {
			t.Errorf("%s refused: %v", host, err)
		}
	}
}

func TestHostAddrReadsEveryIPv4Spelling(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"127.1": "127.0.0.1", "0x7f000001": "127.0.0.1", "2130706433": "127.0.0.1", "017700000001": "127.0.0.1",
		"0": "0.0.0.0", "10.0x10.1": "10.16.0.1", "192.168.257": "192.168.1.1", "1.2.3.4": "1.2.3.4",
	} {
		got, ok := HostAddr(host)
		if !ok || got.String() != want {
			t.Errorf("%s read as %v (%v), want %s", host, got, ok, want)
		}
	}
	for _, host := range []string{"1.2.3.4.5", "256.1.1.1", "1.256.1", "08", "0x", "example", "4294967296", ""} {
		if got, ok := HostAddr(host); ok {
			t.Errorf("%s read as %v", host, got)
		}
	}
}

func last(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 7; j >= 0; j-- {
			if i*8+(7-j) >= bits {
				b[i] |= 1 << j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func hostOf(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	return "[" + ip.String() + "]"
}

// v6Forms returns the IPv6 addresses that carry an IPv4 one.
func v6Forms(ip netip.Addr) []netip.Addr {
	v := ip.As4()
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: v[0], 13: v[1], 14: v[2], 15: v[3]})
	compat := netip.AddrFrom16([16]byte{12: v[0], 13: v[1], 14: v[2], 15: v[3]})
	sixToFour := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: v[0], 3: v[1], 4: v[2], 5: v[3], 15: 1})
	nat64 := netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: v[0], 13: v[1], 14: v[2], 15: v[3]})
	return []netip.Addr{mapped, compat, sixToFour, nat64}
}

// embed puts an IPv4 address into an embedding block, where the block puts it.
func embed(p netip.Prefix, v4 string) netip.Addr {
	v := netip.MustParseAddr(v4).As4()
	b := p.Addr().As16()
	switch p.String() {
	case "2002::/16":
		copy(b[2:6], v[:])
	default:
		copy(b[12:16], v[:])
	}
	return netip.AddrFrom16(b)
}

func ExampleHostAddr() {
	ip, _ := HostAddr("0x7f000001")
	fmt.Println(ip, ForbiddenAddr(ip))
	// Output: 127.0.0.1 true
}
