package egress

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"testing"
)

// FuzzParseConnectTarget: any authority either fails or gives a destination with a host and a port 1–65535
// that parses back to itself (the canonical form is a fixed point).
func FuzzParseConnectTarget(f *testing.F) {
	for _, s := range []string{"example.com:443", "[::1]:80", "[::ffff:127.0.0.1]:8080", "1.2.3.4:0443",
		"host:65536", "[fe80::1%eth0]:443", "a..b:1", ":80", "x:", "[::1]", "ExAmple.Com.:22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authority string) {
		d, err := parseConnectTarget(authority)
		if err != nil {
			return
		}
		if d.host == "" || d.port == 0 {
			t.Fatalf("%q: accepted as %+v", authority, d)
		}
		again, err := parseConnectTarget(d.String())
		if err != nil || again != d {
			t.Fatalf("%q → %s → %+v, %v", authority, d, again, err)
		}
	})
}

// FuzzRouteRequest: any request the HTTP parser accepts is either refused with a 4xx answer or routed over
// plain http to a valid destination; a request routed to the platform always names exactly an allowed path.
func FuzzRouteRequest(f *testing.F) {
	for _, s := range []string{
		"GET http://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n",
		"POST http://platform.test:3000/api/runs/r1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST http://platform.test:3000/api/runs/r1/events/../r2/events HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST http://PLATFORM.test:3000/api/runs/r1/%65vents?x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET https://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n",
		"GET /origin-form HTTP/1.1\r\nHost: public.test\r\n\r\n",
		"CONNECT public.test:443 HTTP/1.1\r\nHost: public.test:443\r\n\r\n",
		"GET http://[::1]:80/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://user:pw@public.test:8080/a%2Fb HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	p, err := New(Config{PlatformURL: "http://platform.test:3000", AllowedPlatformPaths: SinkPaths("/api/runs/r1/events")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		if r.Method == http.MethodConnect {
			if d, err := parseConnectTarget(r.Host); err == nil && (d.host == "" || d.port == 0) {
				t.Fatalf("CONNECT %q accepted as %+v", r.Host, d)
			}
			return
		}
		rt, err := p.routeRequest(r)
		if err != nil {
			var pe *proxyError
			if !errors.As(err, &pe) || pe.status < 400 || pe.status > 499 || pe.body == "" {
				t.Fatalf("refusal %v is not a 4xx answer", err)
			}
			return
		}
		if rt.url.Scheme != "http" || rt.url.Host != rt.dest.String() || rt.dest.port == 0 {
			t.Fatalf("routed to %s (%+v)", rt.url, rt.dest)
		}
		if rt.toPlatform != (rt.dest.String() == "platform.test:3000") {
			t.Fatalf("platform routing wrong for %s", rt.dest)
		}
		if rt.toPlatform && !p.allowedPaths[rt.url.EscapedPath()] {
			t.Fatalf("platform path %s forwarded", strconv.Quote(rt.url.EscapedPath()))
		}
	})
}
