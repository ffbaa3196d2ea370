package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// ErrBlocked is matched (errors.Is) by every *BlockedError.
var ErrBlocked = errors.New("netguard: destination refused")

// BlockedError says which host and address were refused, and why. IP is the zero Addr when the refusal is
// about the URL itself (scheme).
type BlockedError struct {
	Host   string
	IP     netip.Addr
	Reason Reason
}

func (e *BlockedError) Error() string {
	if e.IP.IsValid() {
		if e.Host != "" && e.Host != e.IP.String() {
			return fmt.Sprintf("netguard: refused %s (%s): %s address", e.Host, e.IP, e.Reason)
		}
		return fmt.Sprintf("netguard: refused %s: %s address", e.IP, e.Reason)
	}
	return fmt.Sprintf("netguard: refused %s: %s", e.Host, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Resolver resolves host names; *net.Resolver implements it. network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// MaxRedirects is the number of redirects CheckRedirect follows.
const MaxRedirects = 10

// Policy decides which addresses outbound connections may reach. The zero value refuses every internal
// address and uses the system resolver.
type Policy struct {
	// AllowPrivate permits RFC 1918, unique-local (fc00::/7), site-local and CGNAT (100.64/10) addresses.
	AllowPrivate bool
	// AllowLoopback permits 127/8 and ::1 (tests, local development).
	AllowLoopback bool
	// Allow lists prefixes permitted whatever their class (checked first), e.g. the platform's own address.
	Allow []netip.Prefix
	// Resolver resolves host names (net.DefaultResolver when nil).
	Resolver Resolver
	// Dialer makes the connections (a 10 s connect timeout when nil). Its Control/ControlContext, if any,
	// runs after netguard's own check of the address being connected.
	Dialer *net.Dialer
}

// Check returns a *BlockedError (with an empty Host) when addr may not be reached under this policy.
func (p Policy) Check(addr netip.Addr) error {
	plain := addr.WithZone("")
	for _, pre := range p.Allow {
		if pre.Contains(plain) || pre.Contains(plain.Unmap()) {
			return nil
		}
	}
	reason := Classify(addr)
	switch {
	case reason == "":
		return nil
	case reason == ReasonLoopback && p.AllowLoopback:
		return nil
	case privateish[reason] && p.AllowPrivate:
		return nil
	}
	return &BlockedError{IP: plain, Reason: reason}
}

func (p Policy) checkHost(host string, addr netip.Addr) error {
	if err := p.Check(addr); err != nil {
		be := err.(*BlockedError)
		be.Host = host
		return be
	}
	return nil
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// Resolve returns the addresses of host (an IP literal or a name), or a *BlockedError when any of them is
// refused: a name with one internal address among public ones is refused as a whole.
func (p Policy) Resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.checkHost(host, addr); err != nil {
			return nil, err
		}
		return []netip.Addr{addr}, nil
	}
	if host == "" {
		return nil, &BlockedError{Host: host, Reason: ReasonInvalid}
	}
	ipNet := "ip"
	switch network {
	case "tcp4", "ip4":
		ipNet = "ip4"
	case "tcp6", "ip6":
		ipNet = "ip6"
	}
	addrs, err := p.resolver().LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, fmt.Errorf("netguard: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("netguard: resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if err := p.checkHost(host, a); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// DialContext resolves address ("host:port") once, checks every resolved address and connects to the checked
// addresses in turn; no second resolution happens. Use it as http.Transport.DialContext.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("netguard: network %q not supported", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("netguard: invalid port %q", portStr)
	}
	addrs, err := p.Resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	d := p.dialer()
	var firstErr error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// dialer copies the configured dialer and re-checks the address at connect time (defence in depth: the
// address dialled is always a literal that Resolve already checked).
func (p Policy) dialer() *net.Dialer {
	var d net.Dialer
	if p.Dialer != nil {
		d = *p.Dialer
	} else {
		d.Timeout = 10 * time.Second
		d.KeepAlive = 30 * time.Second
	}
	inner, innerCtx := d.Control, d.ControlContext
	d.Control = nil
	d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("netguard: unexpected dial address %q", address)
		}
		if err := p.checkHost(ap.Addr().String(), ap.Addr()); err != nil {
			return err
		}
		if innerCtx != nil {
			return innerCtx(ctx, network, address, c)
		}
		if inner != nil {
			return inner(network, address, c)
		}
		return nil
	}
	return &d
}

// CheckURL validates a URL before a request: http or https, a host, and (after resolution) no refused
// address. The dial checks again; CheckURL only fails earlier with a clearer error.
func (p Policy) CheckURL(ctx context.Context, u *url.URL) error {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") {
		scheme := ""
		if u != nil {
			scheme = u.Scheme
		}
		return &BlockedError{Host: scheme + ":", Reason: ReasonScheme}
	}
	_, err := p.Resolve(ctx, "tcp", u.Hostname())
	return err
}

// CheckRedirect is an http.Client CheckRedirect: at most MaxRedirects hops, http/https only, userinfo
// stripped from the target (so it cannot become a Basic header), IP-literal targets checked at once. Named
// targets are checked when dialled.
func (p Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return fmt.Errorf("netguard: stopped after %d redirects", MaxRedirects)
	}
	u := req.URL
	if u.Scheme != "http" && u.Scheme != "https" {
		return &BlockedError{Host: u.Scheme + ":", Reason: ReasonScheme}
	}
	if u.User != nil {
		u.User = nil
	}
	if u.Hostname() == "" {
		return &BlockedError{Reason: ReasonInvalid}
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil {
		return p.checkHost(u.Hostname(), addr)
	}
	return nil
}

// Transport returns an http.Transport (a clone of http.DefaultTransport's settings) that dials through the
// policy and never uses an environment proxy: a proxy would make the checked address the proxy's.
func (p Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext
	t.DialTLSContext = nil
	return t
}

// Client returns an http.Client using Transport and CheckRedirect, with the given overall timeout (none when
// zero).
func (p Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: p.Transport(), CheckRedirect: p.CheckRedirect, Timeout: timeout}
}
