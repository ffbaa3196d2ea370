package netguard

import (
	"net/netip"
	"testing"
)

// FuzzClassify: for any 16-byte address (IPv4-mapped ones included) and any IPv4 address, Classify never
// panics, and an address it calls public is a global unicast address that the standard library does not
// consider private, loopback, link-local, multicast or unspecified.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "::ffff:127.0.0.1", "169.254.169.254", "fd00:ec2::254", "64:ff9b::a00:5",
		"2002:a00:5::1", "::", "ff02::1", "2606:4700::1111", "100.64.0.1"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b16 [16]byte
		copy(b16[:], raw)
		for _, a := range []netip.Addr{netip.AddrFrom16(b16), netip.AddrFrom4([4]byte(b16[12:16]))} {
			reason := Classify(a)
			if reason != "" {
				if err := (Policy{}).Check(a); err == nil {
					t.Fatalf("%s classified %q but allowed by the zero policy", a, reason)
				}
				continue
			}
			u := a.Unmap()
			if !u.IsGlobalUnicast() || u.IsPrivate() || u.IsLoopback() || u.IsLinkLocalUnicast() ||
				u.IsMulticast() || u.IsUnspecified() || u.IsInterfaceLocalMulticast() {
				t.Fatalf("%s classified public", a)
			}
			if err := (Policy{}).Check(a); err != nil {
				t.Fatalf("public %s refused: %v", a, err)
			}
		}
	})
}
