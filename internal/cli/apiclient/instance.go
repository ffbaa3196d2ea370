package apiclient

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// InsecureError is an http:// instance that is not loopback, without the insecure opt-in.
type InsecureError struct{ URL string }

func (e *InsecureError) Error() string {
	return fmt.Sprintf("Refusing to send credentials to a non-HTTPS, non-loopback instance: %s\n"+
		"  Use https://, or pass --insecure (APPSTRATE_INSECURE=1) if you really mean plain HTTP.", e.URL)
}

// IsLoopbackHost reports whether host (as in url.URL.Hostname) is localhost, 127.0.0.1 or ::1 (also as an
// IPv4-mapped address).
func IsLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// NormalizeInstance applies the instance URL policy of CLI.md A1: surrounding spaces and one trailing slash
// are dropped, only http and https are allowed, and http only for loopback hosts unless insecure.
func NormalizeInstance(raw string, insecure bool) (string, error) {
	s := strings.TrimSpace(raw)
	s = strings.TrimSuffix(s, "/")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("Invalid instance URL: %q", raw) //lint:ignore ST1005 shown to users as is
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !IsLoopbackHost(u.Hostname()) {
			return "", &InsecureError{URL: s}
		}
	default:
		//lint:ignore ST1005 shown to users as is
		return "", fmt.Errorf("Unsupported instance URL protocol: %s: (expected http:// or https://).", u.Scheme)
	}
	return s, nil
}

// origin is scheme://host[:port] with the default port made explicit, for comparisons.
func origin(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(host, port)
}

// SameOrigin reports whether a and b have the same scheme, host (case-folded, one trailing dot dropped) and
// effective port.
func SameOrigin(a, b *url.URL) bool { return origin(a) == origin(b) }
