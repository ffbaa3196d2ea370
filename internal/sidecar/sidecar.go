package sidecar

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/netguard"
)

// Shutdown bounds: in-flight requests get this long after the context ends, then usage reports this long.
const (
	shutdownGrace     = 10 * time.Second
	usageFlushTimeout = 5 * time.Second
)

// ForwardProxy is the egress forward proxy served on SIDECAR_PROXY_LISTEN (package internal/egress). Serve
// must return when ctx ends.
type ForwardProxy interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// Options are the sidecar's collaborators; the zero value is the production setup.
type Options struct {
	Logger *slog.Logger
	// ForwardProxy is served on Config.ProxyListen. Run fails when ProxyListen is set and this is nil.
	ForwardProxy ForwardProxy
	// ProviderPolicy is the SSRF policy of provider_call (nil = netguard's default: every internal address
	// refused). Tests use it to let one loopback address stand for a public provider.
	ProviderPolicy *netguard.Policy
}

// Sidecar is one run's sidecar. Build it with New, then Run it (or mount Handler in a test server).
type Sidecar struct {
	cfg      Config
	opts     Options
	logger   *slog.Logger
	platform *platform
	usage    *usageReporter
	llm      *llmProxy
	mcp      *mcp.Server
	tools    *toolset
	sink     *sinkRelay

	mu        sync.Mutex
	proxyAddr string // bound forward proxy address, "" until serving
}

// New builds a sidecar from a validated configuration.
func New(cfg Config, opts Options) *Sidecar {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Sidecar{cfg: cfg, opts: opts, logger: logger}
	if cfg.PlatformURL != nil {
		s.platform = newPlatform(cfg.PlatformURL, cfg.RunToken)
		s.usage = &usageReporter{platform: s.platform, logger: logger}
	}
	s.llm = &llmProxy{base: cfg.LLMBaseURL, apiKey: cfg.LLMAPIKey, placeholder: cfg.LLMPlaceholder, api: cfg.ModelAPI,
		maxBody: cfg.MaxRequestBodyBytes, transport: newLLMTransport(), usage: s.usage, logger: logger}
	s.tools = newToolset(cfg, s.platform, opts.ProviderPolicy, logger)
	s.mcp = s.tools.server()
	s.mcp.MaxRequestBytes = cfg.MaxMCPEnvelopeBytes
	s.sink = newSinkRelay(cfg.SinkURL, cfg.SinkFinalizeURL)
	if s.usage != nil {
		s.sink.beforeFinalize = s.usage.wait
	}
	return s
}

// Handler returns the API: /health, /llm/*, /mcp, /sink/events[/finalize|/heartbeat].
func (s *Sidecar) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/llm/", s.requireToken(s.llm, false))
	mux.Handle("/mcp", s.checkHost(s.requireToken(s.mcp, true)))
	mux.Handle("POST /sink/", s.sink)
	return mux
}

func (s *Sidecar) health(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.ProxyListen.IsZero() {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		return
	}
	s.mu.Lock()
	addr := s.proxyAddr
	s.mu.Unlock()
	if addr == "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "degraded", "proxy": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "proxy": addr})
}

// requireToken enforces SIDECAR_TOKEN (X-Sidecar-Token; for /mcp also Authorization: Bearer).
func (s *Sidecar) requireToken(next http.Handler, jsonRPC bool) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Sidecar-Token")
		if got == "" && jsonRPC {
			if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				got = strings.TrimSpace(v)
			}
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			if jsonRPC {
				writeRPCError(w, http.StatusUnauthorized, mcp.CodeServerError, "Unauthorized: missing or wrong sidecar token", nil)
			} else {
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Unauthorized: missing or wrong sidecar token"})
			}
			return
		}
		r.Header.Del("X-Sidecar-Token")
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses a Host header other than sidecar, 127.0.0.1, localhost or ::1 (any port), or empty (unix
// sockets): a browser tricked by DNS rebinding sends its own name.
func (s *Sidecar) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host) {
			writeRPCError(w, http.StatusForbidden, mcp.CodeServerError, "Invalid Host header: "+r.Host, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func allowedHost(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(strings.ToLower(host), "[]")
	switch host {
	case "sidecar", "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// Run binds the listeners, logs "sidecar ready", serves until ctx ends, then shuts down gracefully (in-flight
// requests get a grace period, pending usage reports are flushed).
func (s *Sidecar) Run(ctx context.Context) error {
	if !s.cfg.ProxyListen.IsZero() && s.opts.ForwardProxy == nil {
		return errors.New("SIDECAR_PROXY_LISTEN is set but no forward proxy is available in this build")
	}
	apiLn, err := listen(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("SIDECAR_LISTEN: %w", err)
	}
	var proxyLn net.Listener
	if !s.cfg.ProxyListen.IsZero() {
		if proxyLn, err = listen(s.cfg.ProxyListen); err != nil {
			_ = apiLn.Close()
			return fmt.Errorf("SIDECAR_PROXY_LISTEN: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 255 * time.Second,
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- serveErr("api", srv.Serve(apiLn)) }()
	proxyDone := make(chan struct{})
	if proxyLn != nil {
		s.setProxyAddr(proxyLn.Addr().String())
		go func() {
			defer close(proxyDone)
			if err := s.opts.ForwardProxy.Serve(ctx, proxyLn); err != nil && ctx.Err() == nil {
				s.setProxyAddr("")
				errc <- fmt.Errorf("forward proxy: %w", err)
			}
		}()
	} else {
		close(proxyDone)
	}
	s.logReady(apiLn, proxyLn)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	s.shutdown(srv, proxyDone)
	if s.cfg.Listen.Network == "unix" {
		_ = os.Remove(s.cfg.Listen.Address)
	}
	return runErr
}

func (s *Sidecar) shutdown(srv *http.Server, proxyDone <-chan struct{}) {
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	select {
	case <-proxyDone:
	case <-sctx.Done():
	}
	if s.usage != nil {
		fctx, fcancel := context.WithTimeout(context.Background(), usageFlushTimeout)
		defer fcancel()
		s.usage.wait(fctx)
	}
	s.logger.Info("sidecar stopped")
}

func (s *Sidecar) logReady(apiLn, proxyLn net.Listener) {
	attrs := []any{"listen", addrString(apiLn), "runId", s.cfg.RunID, "llm", s.cfg.LLMBaseURL != nil,
		"metering", s.cfg.ModelAPI != "" && s.usage != nil, "platform", s.platform != nil, "token", s.cfg.Token != ""}
	if proxyLn != nil {
		attrs = append(attrs, "proxy", proxyLn.Addr().String())
	}
	s.logger.Info("sidecar ready", attrs...)
}

func (s *Sidecar) setProxyAddr(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxyAddr = addr
}

func addrString(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return ln.Addr().String()
}

// listen binds an address; a stale unix socket file left by a dead sidecar is replaced.
func listen(a Address) (net.Listener, error) {
	if a.Network == "unix" {
		if fi, err := os.Lstat(a.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(a.Address)
		}
	}
	return net.Listen(a.Network, a.Address)
}

func serveErr(name string, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s listener: %w", name, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRPCError(w http.ResponseWriter, status, code int, msg string, data any) {
	writeJSON(w, status, mcp.Response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &mcp.Error{Code: code, Message: msg, Data: data}})
}
