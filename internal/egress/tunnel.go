package egress

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// tunnel answers a CONNECT: it opens the server side first (so a refusal or failure is a plain HTTP answer),
// then takes over the client connection and relays bytes both ways until one side closes, the tunnel is
// idle for IdleTimeout, or Serve shuts down.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	dest, err := parseConnectTarget(r.Host)
	if err != nil || r.URL == nil || r.URL.Path != "" {
		reason := "CONNECT target must be host:port"
		if err != nil {
			reason = err.Error()
		}
		p.answer(w, r, badRequest(reason))
		return
	}
	sc := scopeFrom(r.Context())
	if !sc.enter() {
		p.answer(w, r, &proxyError{status: http.StatusServiceUnavailable, body: "Service Unavailable: proxy shutting down\n", reason: "shutting down"})
		return
	}
	defer sc.leave()

	dialCtx, cancel := context.WithTimeout(r.Context(), p.connectTimeout)
	if shutdown := sc.closed(); shutdown != nil {
		go func() {
			select {
			case <-shutdown:
				cancel()
			case <-dialCtx.Done():
			}
		}()
	}
	server, err := p.dialTunnel(dialCtx, dest)
	cancel()
	if err != nil {
		p.answer(w, r, err)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = server.Close()
		p.answer(w, r, &proxyError{status: http.StatusNotImplemented, body: "Not Implemented: CONNECT needs an HTTP/1.1 connection\n", reason: err.Error()})
		return
	}
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = server.Close()
		_ = client.Close()
		return
	}
	// Bytes the client sent early are in brw; after them, read the connection itself: reading through brw
	// would let net/http see the client's EOF and cancel the request context, tearing the tunnel down while
	// the server's answer is still on its way.
	var clientR io.Reader = client
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		clientR = io.MultiReader(bytes.NewReader(append([]byte(nil), early...)), client)
	}
	p.log.Debug("egress: tunnel open", "target", dest.String())
	splice(r.Context(), sc.closed(), client, clientR, server, p.idleTimeout)
	p.log.Debug("egress: tunnel closed", "target", dest.String())
}

// splice relays client ⇄ server (reading the client through clientR, which may hold bytes it already
// buffered) and returns once both directions are done and both connections are closed. A direction that
// ends cleanly half-closes its destination so the other direction can finish.
func splice(ctx context.Context, shutdown <-chan struct{}, client net.Conn, clientR io.Reader, server net.Conn, idleTimeout time.Duration) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = client.Close()
			_ = server.Close()
		})
	}
	idle := watchIdle(idleTimeout, closeBoth)
	defer idle.stop()
	stopCtx := context.AfterFunc(ctx, closeBoth)
	defer stopCtx()
	finished := make(chan struct{})
	defer close(finished)
	if shutdown != nil {
		go func() {
			select {
			case <-shutdown:
				closeBoth()
			case <-finished:
			}
		}()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pipe(server, clientR, idle, closeBoth)
	}()
	go func() {
		defer wg.Done()
		pipe(client, server, idle, closeBoth)
	}()
	wg.Wait()
	closeBoth()
}

// pipe copies src to dst, marking activity; at a clean end of src it half-closes dst, on any error it closes
// everything.
func pipe(dst net.Conn, src io.Reader, idle *idleWatch, closeBoth func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			idle.touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				closeBoth()
				return
			}
			idle.touch()
		}
		if err == io.EOF {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
			closeBoth()
			return
		}
		if err != nil {
			closeBoth()
			return
		}
	}
}

// idleWatch calls onIdle once nothing has been touched for timeout. It keeps one timer, re-armed lazily
// when it fires early, so touching costs one atomic store.
type idleWatch struct {
	start   time.Time
	last    atomic.Int64 // time.Since(start) at the last touch, in ns (monotonic)
	timeout time.Duration
	onIdle  func()

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func watchIdle(timeout time.Duration, onIdle func()) *idleWatch {
	w := &idleWatch{start: time.Now(), timeout: timeout, onIdle: onIdle}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(timeout, w.check)
	return w
}

func (w *idleWatch) touch() { w.last.Store(int64(time.Since(w.start))) }

func (w *idleWatch) check() {
	quiet := time.Since(w.start) - time.Duration(w.last.Load())
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if quiet < w.timeout {
		w.timer.Reset(w.timeout - quiet)
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	w.onIdle()
}

func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}
