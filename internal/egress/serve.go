package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// shutdownGrace is how long Serve lets in-flight forwarded requests finish once its context ends.
const shutdownGrace = 5 * time.Second

// Serve runs the proxy on l (TCP or unix socket) until ctx ends, then stops accepting, closes every open
// tunnel, lets in-flight requests finish for a few seconds and returns nil. Request headers are capped at
// MaxHeaderBytes (net/http allows 4 KiB of slack on top), a client has RequestTimeout to send them, and idle
// keep-alive connections close after IdleTimeout. An error is returned only when serving fails on its own.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	sc := &scope{shutdown: make(chan struct{})}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.requestTimeout,
		IdleTimeout:       p.idleTimeout,
		MaxHeaderBytes:    p.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), scopeKey{}, sc)
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		sc.close()
		return fmt.Errorf("egress: serve %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sc.close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("egress: serve %s: %w", l.Addr(), err)
	}
	return nil
}

type scopeKey struct{}

// scope tracks the tunnels of one Serve, which http.Server.Shutdown does not see (they are hijacked).
type scope struct {
	mu       sync.Mutex
	closing  bool
	tunnels  sync.WaitGroup
	shutdown chan struct{}
}

// scopeFrom returns the Serve scope of a request, or nil when the proxy is mounted in another server; a
// nil scope admits every tunnel and never shuts down.
func scopeFrom(ctx context.Context) *scope {
	sc, _ := ctx.Value(scopeKey{}).(*scope)
	return sc
}

// enter registers a tunnel; false once the scope is closing.
func (s *scope) enter() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.tunnels.Add(1)
	return true
}

func (s *scope) leave() {
	if s != nil {
		s.tunnels.Done()
	}
}

// closed is closed when the scope shuts down (nil for a nil scope: never).
func (s *scope) closed() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.shutdown
}

// close refuses new tunnels, closes the open ones and waits for them to end.
func (s *scope) close() {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.shutdown)
	}
	s.mu.Unlock()
	s.tunnels.Wait()
}
