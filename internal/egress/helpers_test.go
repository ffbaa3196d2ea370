package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/netguard"
)

// publicAddr is the loopback address the tests' guard treats as public (netguard.Policy.Allow): "public"
// test servers listen there, while 127.0.0.1 stays internal. Nothing leaves the machine.
const publicAddr = "127.0.0.2"

// names is the tests' DNS: what the guard's Resolver answers. Unknown names do not resolve.
var names = map[string][]string{
	"public.test":   {publicAddr},
	"example.com":   {publicAddr}, // in httptest's TLS certificate
	"rebind.test":   {"127.0.0.1"},
	"mixed.test":    {publicAddr, "10.0.0.1"},
	"metadata.test": {"169.254.169.254"},
	"ula.test":      {"fd00::1"},
}

type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ss, ok := r[strings.TrimSuffix(host, ".")]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

// testGuard is the production policy with the test seam: a fake resolver and publicAddr allowed.
func testGuard() netguard.Policy {
	return netguard.Policy{
		Resolver: fakeResolver(names),
		Allow:    []netip.Prefix{netip.MustParsePrefix(publicAddr + "/32")},
	}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a running proxy.
type harness struct {
	proxy *Proxy
	addr  string // host:port of the proxy listener
	url   *url.URL
	logs  *syncBuffer
	stop  context.CancelFunc
	done  chan error
}

// startProxy runs a proxy on 127.0.0.1 with testGuard unless cfg sets a Guard resolver.
func startProxy(t testing.TB, cfg Config) *harness {
	t.Helper()
	if cfg.Guard.Resolver == nil {
		cfg.Guard = testGuard()
	}
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{proxy: p, addr: l.Addr().String(), logs: logs, stop: cancel, done: make(chan error, 1)}
	h.url = &url.URL{Scheme: "http", Host: h.addr}
	go func() { h.done <- p.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

// client is an HTTP client that uses the proxy for every request.
func (h *harness) client(base *http.Transport) *http.Client {
	tr := &http.Transport{}
	if base != nil {
		tr = base.Clone()
	}
	tr.Proxy = http.ProxyURL(h.url)
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// raw sends a hand-written request to the proxy and reads the answer; the connection is returned open.
func (h *harness) raw(t testing.TB, request string) (*http.Response, string, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test instead of blocking it
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	method := strings.SplitN(request, " ", 2)[0]
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read answer to %q: %v", firstLine(request), err)
	}
	var body string
	if !(method == http.MethodConnect && resp.StatusCode == http.StatusOK) {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp, body, conn, br
}

// connect opens a tunnel through the proxy and fails the test unless it is granted.
func (h *harness) connect(t testing.TB, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	resp, body, conn, br := h.raw(t, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %d %q", target, resp.StatusCode, body)
	}
	return conn, br
}

func firstLine(s string) string { return strings.SplitN(s, "\r\n", 2)[0] }

// listen opens a TCP listener on addr:0.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	return l
}

// serveOn starts an httptest server on addr (plain or TLS).
func serveOn(t testing.TB, addr string, tls bool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = listen(t, addr)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func port(t testing.TB, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// canary is a server that must never be reached.
type canary struct{ hits atomic.Int32 }

func (c *canary) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.hits.Add(1)
	_, _ = io.WriteString(w, "canary reached")
}

// echoServer accepts TCP connections on publicAddr and echoes every byte; closed reports each connection's end.
func echoServer(t testing.TB) (addr string, closed <-chan struct{}) {
	t.Helper()
	l := listen(t, publicAddr)
	t.Cleanup(func() { _ = l.Close() })
	ch := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				// Not io.Copy(c, c): a TCP connection copying to itself may take the splice path.
				_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				_ = c.Close()
				ch <- struct{}{}
			}()
		}
	}()
	return l.Addr().String(), ch
}

// waitClosed reads conn until it is closed by the other side, failing after a generous bound.
func waitClosed(t *testing.T, r io.Reader, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// upstreamProxy is a minimal chained proxy for the tests: it requires Basic credentials, records what it
// sees, resolves the test names itself and relays HTTP and CONNECT.
type upstreamProxy struct {
	user, pass string
	hits       atomic.Int32
	mu         sync.Mutex
	auths      []string
	targets    []string
}

func (u *upstreamProxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ips, ok := names[host]; ok {
		addr = net.JoinHostPort(ips[0], p)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (u *upstreamProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	u.mu.Lock()
	u.auths = append(u.auths, r.Header.Get("Proxy-Authorization"))
	u.targets = append(u.targets, r.Method+" "+r.Host)
	u.mu.Unlock()
	user, pass, ok := parseProxyAuth(r.Header.Get("Proxy-Authorization"))
	if !ok || user != u.user || pass != u.pass {
		w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		server, err := u.dial(r.Context(), "tcp", r.Host)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		client, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			_ = server.Close()
			return
		}
		_, _ = io.WriteString(client, "HTTP/1.1 200 OK\r\n\r\n")
		go func() { _, _ = io.Copy(server, brw); _ = server.Close() }()
		_, _ = io.Copy(client, server)
		_ = client.Close()
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	resp, err := (&http.Transport{DialContext: u.dial}).RoundTrip(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	for k, vv := range resp.Header {
		w.Header()[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func parseProxyAuth(h string) (user, pass string, ok bool) {
	r := &http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}

func (u *upstreamProxy) seen() (auths, targets []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.auths...), append([]string(nil), u.targets...)
}

func mustURL(t *testing.T, format string, args ...any) *url.URL {
	t.Helper()
	u, err := url.Parse(fmt.Sprintf(format, args...))
	if err != nil {
		t.Fatal(err)
	}
	return u
}
