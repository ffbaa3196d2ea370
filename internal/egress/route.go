package egress

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// Bodies of the answers the proxy writes itself.
const (
	blockedBody  = "Blocked: internal network\n"
	platformBody = "Blocked: only this run's sink endpoints are reachable on the platform\n"
)

// destination is where a request or tunnel goes: a lower-case host name or a canonical IP literal (no
// brackets), and a port.
type destination struct {
	host string
	port uint16
}

// String is host:port, with brackets around IPv6 literals.
func (d destination) String() string {
	return net.JoinHostPort(d.host, strconv.Itoa(int(d.port)))
}

// parseConnectTarget parses the authority of a CONNECT request: host:port, both required.
func parseConnectTarget(authority string) (destination, error) {
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		return destination{}, errors.New("CONNECT target must be host:port")
	}
	return parseHostPort(host, port)
}

// parseHostPort validates a host (IP literal without zone, or a DNS name) and a decimal port 1–65535.
func parseHostPort(host, port string) (destination, error) {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return destination{}, errors.New("port must be a number from 1 to 65535")
	}
	if host == "" {
		return destination{}, errors.New("missing host")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return destination{}, errors.New("IPv6 zones are not accepted")
		}
		return destination{host: addr.String(), port: uint16(n)}, nil
	}
	if !validHostname(host) {
		return destination{}, errors.New("invalid host name")
	}
	return destination{host: strings.ToLower(host), port: uint16(n)}, nil
}

// validHostname accepts DNS names: dot-separated labels of 1–63 letters, digits, '-' or '_', at most 253
// characters, one trailing dot allowed.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// proxyError is a request the proxy answers itself: status and body are what the client sees, reason is
// what is logged (never sent, so a refusal tells nothing about the destination).
type proxyError struct {
	status int
	body   string
	reason string
}

func (e *proxyError) Error() string { return "egress: " + e.reason }

func badRequest(reason string) *proxyError {
	return &proxyError{status: http.StatusBadRequest, body: "Bad Request: " + reason + "\n", reason: reason}
}

func blocked(reason string) *proxyError {
	return &proxyError{status: http.StatusForbidden, body: blockedBody, reason: reason}
}

func platformRefused(reason string) *proxyError {
	return &proxyError{status: http.StatusForbidden, body: platformBody, reason: reason}
}

// route is where an absolute-URI request is forwarded.
type route struct {
	dest       destination
	toPlatform bool
	url        *url.URL // outgoing URL, host normalised to dest
}

// routeRequest checks an absolute-URI (non-CONNECT) request and says where it goes. Destinations other than
// the platform are checked later, when dialled. Errors are *proxyError.
func (p *Proxy) routeRequest(r *http.Request) (route, error) {
	u := r.URL
	if u == nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return route{}, badRequest("a forward proxy needs an absolute-URI request (http://host/path) or CONNECT")
	}
	switch u.Scheme {
	case "http":
	case "https":
		return route{}, badRequest("use CONNECT for https destinations")
	default:
		return route{}, badRequest("unsupported scheme " + strconv.Quote(u.Scheme))
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	dest, err := parseHostPort(u.Hostname(), port)
	if err != nil {
		return route{}, badRequest(err.Error())
	}
	out := &url.URL{Scheme: "http", Host: dest.String(), Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if !p.isPlatform(dest) {
		return route{dest: dest, url: out}, nil
	}
	if p.platformTLS {
		return route{}, platformRefused("plain HTTP to the https platform " + dest.String())
	}
	if !p.allowedPaths[u.EscapedPath()] {
		return route{}, platformRefused("platform path " + strconv.Quote(u.EscapedPath()) + " is not a sink endpoint")
	}
	return route{dest: dest, toPlatform: true, url: out}, nil
}

func (p *Proxy) isPlatform(d destination) bool {
	return p.platform != nil && *p.platform == d
}

// hopByHop are the headers that concern one connection only (RFC 9110 §7.6.1, plus the legacy
// Proxy-Connection and the proxy credentials).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// forwardHeader returns a copy of h without hop-by-hop headers, including those named by Connection.
func forwardHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		return http.Header{}
	}
	for _, name := range []string{"Connection", "Proxy-Connection"} {
		for _, v := range h.Values(name) {
			for f := range strings.SplitSeq(v, ",") {
				if f = textproto.TrimString(f); f != "" {
					out.Del(f)
				}
			}
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	return out
}
