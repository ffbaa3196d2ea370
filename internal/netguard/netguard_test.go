package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// fakeResolver maps names to addresses and counts lookups; unknown names fail (no DNS in tests).
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]string
	calls map[string]int
}

func newResolver(names map[string][]string) *fakeResolver {
	return &fakeResolver{names: names, calls: map[string]int{}}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[host]++
	ss, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// countingDialer records every connection attempt (its Control runs for each socket connect).
func countingDialer(n *atomic.Int32) *net.Dialer {
	return &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		n.Add(1)
		return nil
	}}
}

// addrLog records the address of every connection attempt.
type addrLog struct {
	mu    sync.Mutex
	addrs []string
}

func (l *addrLog) dialer() *net.Dialer {
	return &net.Dialer{ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.addrs = append(l.addrs, address)
		return nil
	}}
}

func (l *addrLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want Reason
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4007:80e::200e", ""},
		{"0.0.0.0", ReasonUnspecified},
		{"0.1.2.3", ReasonUnspecified},
		{"::", ReasonUnspecified},
		{"127.0.0.1", ReasonLoopback},
		{"127.255.255.254", ReasonLoopback},
		{"::1", ReasonLoopback},
		{"::ffff:127.0.0.1", ReasonLoopback},
		{"10.0.0.5", ReasonPrivate},
		{"172.16.0.1", ReasonPrivate},
		{"172.31.255.255", ReasonPrivate},
		{"172.32.0.1", ""},
		{"192.168.1.1", ReasonPrivate},
		{"::ffff:10.0.0.5", ReasonPrivate},
		{"::ffff:192.168.0.1", ReasonPrivate},
		{"fc00::1", ReasonPrivate},
		{"fd12:3456::1", ReasonPrivate},
		{"fec0::1", ReasonPrivate},
		{"100.64.0.1", ReasonCGNAT},
		{"100.127.255.255", ReasonCGNAT},
		{"100.128.0.1", ""},
		{"169.254.1.1", ReasonLinkLocal},
		{"fe80::1", ReasonLinkLocal},
		{"fe80::1%eth0", ReasonLinkLocal},
		{"::ffff:169.254.1.1", ReasonLinkLocal},
		{"169.254.169.254", ReasonMetadata},
		{"::ffff:169.254.169.254", ReasonMetadata},
		{"fd00:ec2::254", ReasonMetadata},
		{"100.100.100.200", ReasonMetadata},
		{"169.254.170.2", ReasonMetadata},
		{"224.0.0.1", ReasonMulticast},
		{"239.255.255.250", ReasonMulticast},
		{"ff02::1", ReasonMulticast},
		{"255.255.255.255", ReasonBroadcast},
		{"240.0.0.1", ReasonReserved},
		{"192.0.2.1", ReasonReserved},
		{"198.51.100.7", ReasonReserved},
		{"203.0.113.9", ReasonReserved},
		{"198.18.0.1", ReasonReserved},
		{"192.0.0.8", ReasonReserved},
		{"2001:db8::1", ReasonReserved},
		{"2001::1", ReasonReserved},          // Teredo
		{"::10.0.0.1", ReasonReserved},       // IPv4-compatible
		{"100::1", ReasonReserved},           // discard
		{"::ffff:0:a00:5", ReasonReserved},   // SIIT
		{"64:ff9b::10.0.0.5", ReasonPrivate}, // NAT64 of a private address
		{"64:ff9b::127.0.0.1", ReasonLoopback},
		{"64:ff9b::8.8.8.8", ""},
		{"64:ff9b:1::1", ReasonPrivate},
		{"2002:a00:5::1", ReasonPrivate},      // 6to4 of 10.0.0.5
		{"2002:a9fe:a9fe::1", ReasonMetadata}, // 6to4 of 169.254.169.254
		{"2002:808:808::1", ""},
		{"4000::1", ReasonReserved}, // outside 2000::/3
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := Classify(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("Classify(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if Classify(netip.Addr{}) != ReasonInvalid {
		t.Fatal("zero Addr not invalid")
	}
}

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		addr   string
		ok     bool
	}{
		{"public", Policy{}, "8.8.8.8", true},
		{"loopback refused", Policy{}, "127.0.0.1", false},
		{"loopback allowed", Policy{AllowLoopback: true}, "127.0.0.1", true},
		{"mapped loopback allowed", Policy{AllowLoopback: true}, "::ffff:127.0.0.1", true},
		{"private refused", Policy{AllowLoopback: true}, "10.0.0.5", false},
		{"private allowed", Policy{AllowPrivate: true}, "10.0.0.5", true},
		{"ula allowed", Policy{AllowPrivate: true}, "fd12::1", true},
		{"cgnat allowed as private", Policy{AllowPrivate: true}, "100.64.1.1", true},
		{"metadata never by class", Policy{AllowPrivate: true, AllowLoopback: true}, "169.254.169.254", false},
		{"aws v6 metadata never by class", Policy{AllowPrivate: true}, "fd00:ec2::254", false},
		{"alibaba metadata never by class", Policy{AllowPrivate: true}, "100.100.100.200", false},
		{"link-local never by class", Policy{AllowPrivate: true, AllowLoopback: true}, "169.254.3.3", false},
		{"explicit allow", Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, "10.1.2.3", true},
		{"explicit allow, mapped", Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, "::ffff:10.1.2.3", true},
		{"explicit allow other", Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, "10.1.3.3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(netip.MustParseAddr(tt.addr))
			if (err == nil) != tt.ok {
				t.Fatalf("Check(%s) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
			if err != nil {
				var be *BlockedError
				if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || be.Reason == "" {
					t.Fatalf("error %v is not a *BlockedError", err)
				}
			}
		})
	}
}

func hello() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
}

func get(t *testing.T, c *http.Client, u string) (string, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func TestLoopbackServerRefusedUnlessAllowed(t *testing.T) {
	srv := hello()
	defer srv.Close()

	var dials atomic.Int32
	_, err := get(t, Policy{Dialer: countingDialer(&dials)}.Client(0), srv.URL)
	var be *BlockedError
	if !errors.As(err, &be) || be.Reason != ReasonLoopback || be.IP != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("default policy: err = %v", err)
	}
	if dials.Load() != 0 {
		t.Fatalf("%d connection attempts to a refused address", dials.Load())
	}

	body, err := get(t, Policy{AllowLoopback: true}.Client(0), srv.URL)
	if err != nil || body != "hello" {
		t.Fatalf("loopback allowed: %q, %v", body, err)
	}
}

func TestNameResolvingToPrivateRefusedWithoutConnecting(t *testing.T) {
	res := newResolver(map[string][]string{
		"internal.test": {"10.0.0.5"},
		"mixed.test":    {"127.0.0.1", "10.0.0.5"},
		"meta.test":     {"169.254.169.254"},
	})
	var dials atomic.Int32
	pol := Policy{AllowLoopback: true, Resolver: res, Dialer: countingDialer(&dials)}
	for _, host := range []string{"internal.test", "mixed.test", "meta.test"} {
		t.Run(host, func(t *testing.T) {
			_, err := get(t, pol.Client(0), "http://"+host+"/")
			var be *BlockedError
			if !errors.As(err, &be) || be.Host != host || be.Reason == ReasonLoopback {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), host) {
				t.Fatalf("error does not name the host: %v", err)
			}
		})
	}
	if dials.Load() != 0 {
		t.Fatalf("%d connection attempts", dials.Load())
	}
	if err := pol.CheckURL(context.Background(), &url.URL{Scheme: "https", Host: "internal.test"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("CheckURL = %v", err)
	}
}

// TestDialsTheCheckedAddress: the name resolves (once) to 127.0.0.1 through the test resolver and is not
// resolvable otherwise, so a successful request proves the dial used the checked address.
func TestDialsTheCheckedAddress(t *testing.T) {
	srv := hello()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	res := newResolver(map[string][]string{"api.test": {"127.0.0.1"}})
	c := Policy{AllowLoopback: true, Resolver: res}.Client(0)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	for i := range 3 {
		body, err := get(t, c, "http://api.test:"+port+"/")
		if err != nil || body != "hello" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
	}
	if n := res.count("api.test"); n != 3 {
		t.Fatalf("%d lookups for 3 connections; want exactly one per connection", n)
	}
}

// TestRebindingAnswerNotUsed: a resolver that answers public first and private afterwards cannot make a
// connection reach the private address, because each dial resolves once and dials what it checked.
func TestRebindingAnswerNotUsed(t *testing.T) {
	var n atomic.Int32
	res := resolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
		if n.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // "public" for this policy
		}
		return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil
	})
	srv := hello()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var dials atomic.Int32
	c := Policy{AllowLoopback: true, Resolver: res, Dialer: countingDialer(&dials)}.Client(0)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	if body, err := get(t, c, "http://rebind.test:"+port+"/"); err != nil || body != "hello" {
		t.Fatalf("first: %q %v", body, err)
	}
	if _, err := get(t, c, "http://rebind.test:"+port+"/"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("second (rebound to private): %v", err)
	}
	if dials.Load() != 1 {
		t.Fatalf("%d connection attempts, want 1", dials.Load())
	}
}

type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

func TestRedirectToPrivateRefused(t *testing.T) {
	targets := map[string]string{
		"/literal":  "http://10.0.0.5/admin",
		"/mapped":   "http://[::ffff:10.0.0.5]/admin",
		"/metadata": "http://169.254.169.254/latest/meta-data/",
		"/name":     "http://internal.test/admin",
		"/scheme":   "file:///etc/passwd",
		"/gopher":   "gopher://127.0.0.1:70/",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := targets[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		if r.URL.Path == "/userinfo" {
			u := "http://user:pass@" + r.Host + "/echo-auth"
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
		if r.URL.Path == "/echo-auth" {
			fmt.Fprintf(w, "auth=%q", r.Header.Get("Authorization"))
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	dialed := &addrLog{}
	pol := Policy{AllowLoopback: true, Resolver: newResolver(map[string][]string{"internal.test": {"10.0.0.5"}}),
		Dialer: dialed.dialer()}
	c := pol.Client(0)
	for path := range targets {
		t.Run(path, func(t *testing.T) {
			_, err := get(t, c, srv.URL+path)
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("redirect %s → %s: err = %v", path, targets[path], err)
			}
		})
	}
	if _, err := get(t, c, srv.URL+"/loop"); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("redirect loop: %v", err)
	}
	body, err := get(t, c, srv.URL+"/userinfo")
	if err != nil || body != `auth=""` {
		t.Fatalf("userinfo redirect: %q %v", body, err)
	}
	// Every connection attempted went to the loopback test server, none to a refused target.
	for _, a := range dialed.list() {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("connection attempted to %s", a)
		}
	}
	if len(dialed.list()) == 0 {
		t.Fatal("no dial recorded")
	}
}

func TestDialContextErrors(t *testing.T) {
	pol := Policy{AllowLoopback: true, Resolver: newResolver(nil)}
	ctx := context.Background()
	for _, tt := range []struct{ network, addr string }{
		{"udp", "127.0.0.1:53"},
		{"tcp", "127.0.0.1"},
		{"tcp", "127.0.0.1:http"},
		{"tcp", "127.0.0.1:70000"},
		{"tcp", ":80"},
		{"tcp", "nowhere.test:80"},
	} {
		if conn, err := pol.DialContext(ctx, tt.network, tt.addr); err == nil {
			conn.Close()
			t.Fatalf("DialContext(%s, %s) succeeded", tt.network, tt.addr)
		}
	}
	if err := pol.CheckURL(ctx, &url.URL{Scheme: "ftp", Host: "x"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("CheckURL(ftp) = %v", err)
	}
	if err := pol.CheckURL(ctx, nil); !errors.Is(err, ErrBlocked) {
		t.Fatalf("CheckURL(nil) = %v", err)
	}
}

func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	tr := Policy{}.Transport()
	if tr.Proxy != nil {
		t.Fatal("transport uses a proxy")
	}
}
