package egress

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// ServeHTTP proxies one request: CONNECT opens a tunnel, an absolute-URI request is forwarded. Mounted in a
// server of one's own rather than through Serve, set that server's MaxHeaderBytes; its tunnels then end
// with their request's context instead of Serve's.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	p.forward(w, r)
}

// forward relays an absolute-URI request and streams the answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	rt, err := p.routeRequest(r)
	if err != nil {
		p.answer(w, r, err)
		return
	}
	if !rt.toPlatform && p.upstream != nil {
		// The chained proxy dials, not us: check the name here first.
		if _, err := p.resolve(r.Context(), rt.dest.host); err != nil {
			p.answer(w, r, err)
			return
		}
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	idle := watchIdle(p.idleTimeout, func() { cancel(errIdle) })
	defer idle.stop()

	out, err := http.NewRequestWithContext(ctx, r.Method, rt.url.String(), nil)
	if err != nil {
		p.answer(w, r, badRequest(err.Error()))
		return
	}
	out.URL = rt.url
	out.Host = r.Host
	out.Header = forwardHeader(r.Header)
	out.ContentLength = r.ContentLength
	if r.ContentLength != 0 {
		out.Body = &activityReader{r: r.Body, idle: idle}
	}
	transport := p.external
	if rt.toPlatform {
		transport = p.toPlatform
	}
	resp, err := transport.RoundTrip(out)
	if err != nil {
		if errors.Is(context.Cause(ctx), errIdle) {
			err = errIdle
		}
		p.answer(w, r, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	idle.touch()
	header := w.Header()
	for k, vv := range forwardHeader(resp.Header) {
		header[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	if err := stream(w, resp.Body, idle); err != nil {
		p.log.Info("egress: response aborted", "method", r.Method, "target", logTarget(r), "error", err)
		// net/http's own way to abort a response: the client sees a broken message, not a short complete one.
		panic(http.ErrAbortHandler)
	}
}

// errIdle is a forwarded exchange that saw no traffic for IdleTimeout.
var errIdle = &timeoutError{"no traffic within the idle timeout"}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true } // completes net.Error

// stream copies body to w, flushing after every read so event streams pass through as they come.
func stream(w http.ResponseWriter, body io.Reader, idle *idleWatch) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			idle.touch()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// activityReader marks the idle watch on every read of a request body.
type activityReader struct {
	r    io.ReadCloser
	idle *idleWatch
}

func (a *activityReader) Read(b []byte) (int, error) {
	n, err := a.r.Read(b)
	if n > 0 {
		a.idle.touch()
	}
	return n, err
}

func (a *activityReader) Close() error { return a.r.Close() }

// answer writes the proxy's own answer for err and logs it: refusals as warnings, failures as info.
func (p *Proxy) answer(w http.ResponseWriter, r *http.Request, err error) {
	pe := asProxyError(err)
	if pe.status == http.StatusForbidden {
		p.log.Warn("egress: refused", "method", r.Method, "target", logTarget(r), "reason", pe.reason)
	} else {
		p.log.Info("egress: failed", "method", r.Method, "target", logTarget(r), "status", pe.status, "error", pe.reason)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodConnect {
		h.Set("Connection", "close")
	}
	w.WriteHeader(pe.status)
	_, _ = io.WriteString(w, pe.body)
}

// logTarget is the host and path of a request, without query (it may carry secrets).
func logTarget(r *http.Request) string {
	if r.Method == http.MethodConnect || r.URL == nil {
		return r.Host
	}
	return r.Host + r.URL.EscapedPath()
}
