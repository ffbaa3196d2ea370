package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/appstrate/appstrate-go/internal/netguard"
)

// resolve resolves host once through the guard. A refused address and a name that does not resolve give
// the same 403, so the answer does not tell whether an internal name exists.
func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := p.guard.Resolve(ctx, "tcp", host)
	if err == nil {
		return addrs, nil
	}
	if errors.Is(err, netguard.ErrBlocked) {
		return nil, blocked(err.Error())
	}
	return nil, blocked("unresolvable: " + err.Error()) // NXDOMAIN, SERVFAIL and timeouts alike
}

// dialExternal connects to a destination other than the platform: it resolves the name once, refuses it when
// any address is internal, and dials the checked addresses (literals, so nothing is resolved again; the
// guard's dialer checks each address once more at connect time). It is the DialContext of direct requests.
// ConnectTimeout bounds resolution and connection together.
func (p *Proxy) dialExternal(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, p.connectTimeout) // resolution and connect together
	defer cancel()
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := p.guard.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, netguard.ErrBlocked) {
			return nil, blocked(err.Error())
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("connect %s: %w", address, firstErr)
}

// dialTunnel opens the server side of a CONNECT tunnel.
func (p *Proxy) dialTunnel(ctx context.Context, dest destination) (net.Conn, error) {
	switch {
	case p.isPlatform(dest):
		if !p.platformTLS {
			return nil, platformRefused("CONNECT to the http platform " + dest.String())
		}
		return p.plainDialer.DialContext(ctx, "tcp", dest.String())
	case p.upstream != nil:
		if _, err := p.resolve(ctx, dest.host); err != nil {
			return nil, err
		}
		return p.connectViaUpstream(ctx, dest)
	default:
		return p.dialExternal(ctx, "tcp", dest.String())
	}
}

// upstreamError is a chained proxy that would not open a tunnel.
type upstreamError struct{ status int }

func (e *upstreamError) Error() string {
	return fmt.Sprintf("upstream proxy answered %d to CONNECT", e.status)
}

// connectViaUpstream asks the chained proxy for a tunnel to dest, reading its answer's headers under the
// MaxHeaderBytes cap. The destination was checked locally; the chained proxy resolves the name again, so
// past it the operator's proxy policy is what applies.
func (p *Proxy) connectViaUpstream(ctx context.Context, dest destination) (net.Conn, error) {
	conn, err := p.plainDialer.DialContext(ctx, "tcp", p.upstreamAddr)
	if err != nil {
		return nil, fmt.Errorf("connect to upstream proxy: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	br, err := p.upstreamHandshake(conn, dest)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("upstream proxy: %w", err)
	}
	if n := br.Buffered(); n > 0 {
		early, _ := br.Peek(n)
		return &prefixConn{Conn: conn, prefix: append([]byte(nil), early...)}, nil
	}
	return conn, nil
}

// upstreamHandshake writes the CONNECT request and reads the answer; the returned reader may hold the first
// tunnelled bytes.
func (p *Proxy) upstreamHandshake(conn net.Conn, dest destination) (*bufio.Reader, error) {
	req := "CONNECT " + dest.String() + " HTTP/1.1\r\nHost: " + dest.String() + "\r\n"
	if p.upstreamAuth != "" {
		req += "Proxy-Authorization: " + p.upstreamAuth + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, fmt.Errorf("upstream proxy: %w", err)
	}
	limited := &io.LimitedReader{R: conn, N: int64(p.maxHeaderBytes)}
	br := bufio.NewReader(limited)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if limited.N == 0 {
			return nil, fmt.Errorf("upstream proxy: CONNECT answer headers exceed %d bytes", p.maxHeaderBytes)
		}
		return nil, fmt.Errorf("upstream proxy: read CONNECT answer: %w", err)
	}
	// The body is not read nor closed: after a 2xx it is the tunnel itself.
	if resp.StatusCode/100 != 2 {
		return nil, &upstreamError{status: resp.StatusCode}
	}
	limited.N = 1<<63 - 1 // the tunnel itself is not capped
	return br, nil
}

// prefixConn returns bytes already read from the connection before reading it again.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite half-closes the underlying connection when it can.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// asProxyError turns a dial or round-trip failure into the answer the client gets: refusals as they are,
// timeouts 504, anything else 502 (details are logged, not sent).
func asProxyError(err error) *proxyError {
	var pe *proxyError
	if errors.As(err, &pe) {
		return pe
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		return &proxyError{status: http.StatusBadGateway, body: fmt.Sprintf("Bad Gateway: upstream proxy answered %d\n", ue.status), reason: err.Error()}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &proxyError{status: http.StatusGatewayTimeout, body: "Gateway Timeout\n", reason: err.Error()}
	}
	return &proxyError{status: http.StatusBadGateway, body: "Bad Gateway\n", reason: err.Error()}
}
