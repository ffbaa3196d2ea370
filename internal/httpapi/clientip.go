package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientIPKey struct{}

// ClientIPFrom returns the client address resolved by the pipeline (TRUST_PROXY aware), or "".
func ClientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// ClientIP resolves the caller's address. trustedHops = 0 uses the socket address; N > 0 takes the N-th entry
// from the right of X-Forwarded-For, then X-Real-IP, then the socket address. Unparseable values are ignored.
func ClientIP(r *http.Request, trustedHops int) string {
	if trustedHops > 0 {
		if ip, ok := forwardedFor(r.Header.Values("X-Forwarded-For"), trustedHops); ok {
			return ip
		}
		if ip, ok := parseIP(r.Header.Get("X-Real-IP")); ok {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, ok := parseIP(host); ok {
		return ip
	}
	return host
}

// forwardedFor picks the hops-th address from the right of the (possibly repeated) X-Forwarded-For header;
// when the chain is shorter, the left-most address is the best remaining guess.
func forwardedFor(values []string, hops int) (string, bool) {
	var chain []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				chain = append(chain, part)
			}
		}
	}
	if len(chain) == 0 {
		return "", false
	}
	idx := len(chain) - hops
	if idx < 0 {
		idx = 0
	}
	return parseIP(chain[idx])
}

func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if addr, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return addr.Unmap().String(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().String(), true
	}
	return "", false
}

func clientIPMiddleware(trustedHops int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), clientIPKey{}, ClientIP(r, trustedHops))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
