package netguard

import "net/netip"

// Reason says why an address is refused.
type Reason string

// Reasons of BlockedError.
const (
	ReasonLoopback    Reason = "loopback"
	ReasonPrivate     Reason = "private"
	ReasonCGNAT       Reason = "cgnat"
	ReasonLinkLocal   Reason = "link-local"
	ReasonMetadata    Reason = "metadata"
	ReasonUnspecified Reason = "unspecified"
	ReasonMulticast   Reason = "multicast"
	ReasonBroadcast   Reason = "broadcast"
	ReasonReserved    Reason = "reserved"
	ReasonScheme      Reason = "scheme"
	ReasonInvalid     Reason = "invalid"
)

type rangeRule struct {
	prefix netip.Prefix
	reason Reason
}

func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// metadataAddrs are the cloud instance-metadata endpoints, refused whatever the policy allows.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, …
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
}

// v4Rules classify IPv4 addresses (first match wins); anything else is public.
var v4Rules = []rangeRule{
	{p("255.255.255.255/32"), ReasonBroadcast},
	{p("0.0.0.0/8"), ReasonUnspecified},
	{p("127.0.0.0/8"), ReasonLoopback},
	{p("10.0.0.0/8"), ReasonPrivate},
	{p("172.16.0.0/12"), ReasonPrivate},
	{p("192.168.0.0/16"), ReasonPrivate},
	{p("100.64.0.0/10"), ReasonCGNAT},
	{p("169.254.0.0/16"), ReasonLinkLocal},
	{p("192.0.0.0/24"), ReasonReserved},    // IETF protocol assignments
	{p("192.0.2.0/24"), ReasonReserved},    // TEST-NET-1
	{p("192.88.99.0/24"), ReasonReserved},  // 6to4 relay anycast
	{p("198.18.0.0/15"), ReasonReserved},   // benchmarking
	{p("198.51.100.0/24"), ReasonReserved}, // TEST-NET-2
	{p("203.0.113.0/24"), ReasonReserved},  // TEST-NET-3
	{p("224.0.0.0/4"), ReasonMulticast},
	{p("240.0.0.0/4"), ReasonReserved},
}

// v6Rules classify IPv6 addresses that are not IPv4-mapped (first match wins). Addresses outside 2000::/3
// that match nothing are reserved; NAT64 and 6to4 addresses are judged by the IPv4 address they embed.
var v6Rules = []rangeRule{
	{p("::/128"), ReasonUnspecified},
	{p("::1/128"), ReasonLoopback},
	{p("::/96"), ReasonReserved},           // IPv4-compatible (deprecated)
	{p("::ffff:0:0:0/96"), ReasonReserved}, // SIIT IPv4-translated
	{p("64:ff9b:1::/48"), ReasonPrivate},   // local-use NAT64
	{p("100::/64"), ReasonReserved},        // discard-only
	{p("2001::/23"), ReasonReserved},       // IETF protocol assignments (Teredo, benchmarking, ORCHID)
	{p("2001:db8::/32"), ReasonReserved},   // documentation
	{p("3fff::/20"), ReasonReserved},       // documentation
	{p("fc00::/7"), ReasonPrivate},         // unique local
	{p("fe80::/10"), ReasonLinkLocal},
	{p("fec0::/10"), ReasonPrivate}, // site-local (deprecated)
	{p("ff00::/8"), ReasonMulticast},
}

var (
	nat64      = p("64:ff9b::/96")
	sixToFour  = p("2002::/16")
	globalV6   = p("2000::/3")
	privateish = map[Reason]bool{ReasonPrivate: true, ReasonCGNAT: true}
)

// Classify returns why addr is internal, or "" when it is a public unicast address. It ignores any policy:
// see Policy.Check.
func Classify(addr netip.Addr) Reason {
	if !addr.IsValid() {
		return ReasonInvalid
	}
	addr = addr.WithZone("").Unmap()
	for _, m := range metadataAddrs {
		if addr == m {
			return ReasonMetadata
		}
	}
	if addr.Is4() {
		for _, r := range v4Rules {
			if r.prefix.Contains(addr) {
				return r.reason
			}
		}
		return ""
	}
	for _, r := range v6Rules {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return Classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(addr):
		return Classify(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case !globalV6.Contains(addr):
		return ReasonReserved
	}
	return ""
}
