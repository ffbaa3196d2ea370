package egress

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/netguard"
)

// Defaults of Config (RUNTIME.md §3.5).
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultIdleTimeout    = 120 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxHeaderBytes = 16 << 10
)

// maxResponseHeaderBytes bounds the response headers of an origin server.
const maxResponseHeaderBytes = 1 << 20

// Config is what a Proxy enforces. The zero value (plus a Logger, optionally) is a usable proxy that reaches
// public destinations only.
type Config struct {
	// Guard decides which resolved addresses may be dialled; its Resolver and Dialer are used (the Dialer's
	// Timeout is replaced by ConnectTimeout when it has none).
	Guard netguard.Policy
	// PlatformURL is the platform's base URL ("http://host:port" or "https://host:port"); empty means the
	// platform is not reachable at all. Only its scheme, host and port matter.
	PlatformURL string
	// AllowedPlatformPaths are the request paths forwarded to the platform over plain HTTP, compared exactly
	// with the escaped request path (so "..", "//" or percent-encoded variants never match). See SinkPaths.
	AllowedPlatformPaths []string
	// Upstream, when set, is a chained proxy (PROXY_URL) for every destination but the platform: http only;
	// its userinfo becomes Basic proxy credentials.
	Upstream *url.URL
	// ConnectTimeout bounds a TCP connect (and, with Upstream, the CONNECT exchange). Default 10 s.
	ConnectTimeout time.Duration
	// IdleTimeout closes a tunnel, or a forwarded exchange, after this long without a byte in either
	// direction; it is also the keep-alive timeout of client connections in Serve. Default 120 s.
	IdleTimeout time.Duration
	// RequestTimeout bounds the wait for an origin's response headers once a request is sent, and the time a
	// client has to send its request headers in Serve. Default 30 s.
	RequestTimeout time.Duration
	// MaxHeaderBytes caps the request headers a client may send (in Serve) and the response headers of a
	// chained proxy's CONNECT answer. Default 16 KiB.
	MaxHeaderBytes int
	// Logger receives refusals (warn) and failures (info); nothing is logged when nil.
	Logger *slog.Logger
}

// SinkPaths returns the sink endpoints of one run from its events path ("/api/runs/<runId>/events"): the
// events path itself and its /finalize and /heartbeat children (RUNTIME.md §5). Use it for
// Config.AllowedPlatformPaths.
func SinkPaths(eventsPath string) []string {
	eventsPath = strings.TrimSuffix(eventsPath, "/")
	return []string{eventsPath, eventsPath + "/finalize", eventsPath + "/heartbeat"}
}

// ErrConfig is matched (errors.Is) by every configuration error of New.
var ErrConfig = errors.New("egress: invalid configuration")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Proxy is the forward proxy. It is safe for concurrent use.
type Proxy struct {
	guard          netguard.Policy
	platform       *destination // nil when no platform is configured
	platformTLS    bool
	allowedPaths   map[string]bool
	upstream       *url.URL
	upstreamAddr   string
	upstreamAuth   string // "Basic …" or ""
	connectTimeout time.Duration
	idleTimeout    time.Duration
	requestTimeout time.Duration
	maxHeaderBytes int
	plainDialer    *net.Dialer
	external       *http.Transport // public destinations, direct or through Upstream
	toPlatform     *http.Transport
	log            *slog.Logger
}

// New checks cfg and returns the proxy. Errors match ErrConfig.
func New(cfg Config) (*Proxy, error) {
	p := &Proxy{
		guard:          cfg.Guard,
		allowedPaths:   map[string]bool{},
		connectTimeout: orDefault(cfg.ConnectTimeout, DefaultConnectTimeout),
		idleTimeout:    orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		requestTimeout: orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		maxHeaderBytes: cfg.MaxHeaderBytes,
		log:            cfg.Logger,
	}
	if cfg.ConnectTimeout < 0 || cfg.IdleTimeout < 0 || cfg.RequestTimeout < 0 || cfg.MaxHeaderBytes < 0 {
		return nil, configError("timeouts and MaxHeaderBytes must not be negative")
	}
	if p.maxHeaderBytes == 0 {
		p.maxHeaderBytes = DefaultMaxHeaderBytes
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if err := p.setPlatform(cfg.PlatformURL, cfg.AllowedPlatformPaths); err != nil {
		return nil, err
	}
	if err := p.setUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	p.plainDialer = &net.Dialer{Timeout: p.connectTimeout, KeepAlive: 30 * time.Second}
	if p.guard.Dialer == nil {
		p.guard.Dialer = p.plainDialer
	} else if p.guard.Dialer.Timeout == 0 {
		d := *p.guard.Dialer
		d.Timeout = p.connectTimeout
		p.guard.Dialer = &d
	}
	p.external = p.transport(p.dialExternal)
	if p.upstream != nil {
		p.external.Proxy = http.ProxyURL(p.upstream) // the transport adds Proxy-Authorization from userinfo
		p.external.DialContext = p.plainDialer.DialContext
	}
	p.toPlatform = p.transport(p.plainDialer.DialContext)
	return p, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (p *Proxy) setPlatform(raw string, paths []string) error {
	if raw == "" {
		if len(paths) > 0 {
			return configError("AllowedPlatformPaths given without PlatformURL")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return configError("PlatformURL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return configError("PlatformURL %q: scheme must be http or https", raw)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	dest, err := parseHostPort(u.Hostname(), port)
	if err != nil {
		return configError("PlatformURL %q: %v", raw, err)
	}
	p.platform = &dest
	p.platformTLS = u.Scheme == "https"
	for _, path := range paths {
		if !strings.HasPrefix(path, "/") {
			return configError("AllowedPlatformPaths: %q does not start with /", path)
		}
		p.allowedPaths[path] = true
	}
	return nil
}

func (p *Proxy) setUpstream(u *url.URL) error {
	if u == nil {
		return nil
	}
	if u.Scheme != "http" {
		return configError("Upstream %q: only http:// proxies are supported", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	dest, err := parseHostPort(u.Hostname(), port)
	if err != nil {
		return configError("Upstream %q: %v", u.Redacted(), err)
	}
	clone := *u
	p.upstream = &clone
	p.upstreamAddr = dest.String()
	if u.User != nil {
		pass, _ := u.User.Password()
		p.upstreamAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
	}
	return nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func (p *Proxy) transport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  p.requestTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // pass encodings through untouched
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}
