package runner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// NewHTTPClient returns the client of every request the runner makes (model, MCP, sink). Requests to the
// sidecar's host never use a proxy, and when socket is set they are dialled through that unix socket whatever
// the URL's port. Other requests honour HTTP(S)_PROXY / NO_PROXY. No overall timeout: contexts bound requests.
func NewHTTPClient(sidecarURL, socket string) (*http.Client, error) {
	sidecarHost := ""
	if sidecarURL != "" {
		u, err := url.Parse(sidecarURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("sidecar URL %q is not an absolute URL", sidecarURL)
		}
		sidecarHost = u.Hostname()
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		if sidecarHost != "" && r.URL.Hostname() == sidecarHost {
			return nil, nil
		}
		return http.ProxyFromEnvironment(r)
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if socket != "" && sidecarHost != "" {
			if host, _, err := net.SplitHostPort(addr); err == nil && host == sidecarHost {
				return dialer.DialContext(ctx, "unix", socket)
			}
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}, nil
}
