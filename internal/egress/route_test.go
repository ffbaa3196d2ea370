package egress

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseConnectTarget(t *testing.T) {
	tests := []struct {
		in   string
		want string // destination, or "" for an error
	}{
		{"example.com:443", "example.com:443"},
		{"Example.COM:443", "example.com:443"},
		{"example.com.:443", "example.com.:443"},
		{"under_score.example:80", "under_score.example:80"},
		{"1.2.3.4:8080", "1.2.3.4:8080"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"},
		{"[2001:DB8:0::1]:443", "[2001:db8::1]:443"},
		{"[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80"},
		{"example.com:0443", "example.com:443"},
		{"example.com", ""},
		{"example.com:", ""},
		{":443", ""},
		{"example.com:0", ""},
		{"example.com:65536", ""},
		{"example.com:-1", ""},
		{"example.com:+443", ""},
		{"example.com:https", ""},
		{"2001:db8::1:443", ""},
		{"[fe80::1%eth0]:443", ""},
		{"exa mple.com:443", ""},
		{"user@example.com:443", ""},
		{"example..com:443", ""},
		{"-.example.com:443", "-.example.com:443"}, // odd but harmless: resolution decides
		{strings.Repeat("a", 64) + ".com:443", ""},
		{strings.Repeat("a.", 127) + "a:443", ""},
		{"/path", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := parseConnectTarget(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: accepted as %s", tc.in, got)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.want != "" && got.String() != tc.want:
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestForwardHeader(t *testing.T) {
	in := http.Header{
		"Connection":          {"keep-alive, X-Private", "X-Other"},
		"Proxy-Connection":    {"X-Legacy"},
		"X-Private":           {"1"},
		"X-Other":             {"2"},
		"X-Legacy":            {"3"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic x"},
		"Proxy-Authenticate":  {"Basic"},
		"Te":                  {"trailers"},
		"Trailer":             {"X-T"},
		"Transfer-Encoding":   {"chunked"},
		"Upgrade":             {"websocket"},
		"Authorization":       {"Bearer end-to-end"},
		"Content-Type":        {"text/plain"},
	}
	want := http.Header{"Authorization": {"Bearer end-to-end"}, "Content-Type": {"text/plain"}}
	if got := forwardHeader(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if in.Get("X-Private") != "1" {
		t.Error("input header modified")
	}
	if got := forwardHeader(nil); got == nil || len(got) != 0 {
		t.Errorf("nil header: %v", got)
	}
}

func TestSinkPaths(t *testing.T) {
	want := []string{"/api/runs/r1/events", "/api/runs/r1/events/finalize", "/api/runs/r1/events/heartbeat"}
	for _, in := range []string{"/api/runs/r1/events", "/api/runs/r1/events/"} {
		if got := SinkPaths(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SinkPaths(%q) = %q", in, got)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"platform scheme", Config{PlatformURL: "ftp://platform:21"}, "scheme must be http or https"},
		{"platform without host", Config{PlatformURL: "http://"}, "missing host"},
		{"platform unparseable", Config{PlatformURL: "http://[::1"}, "PlatformURL"},
		{"platform bad port", Config{PlatformURL: "http://platform:99999"}, "port"},
		{"paths without platform", Config{AllowedPlatformPaths: []string{"/x"}}, "without PlatformURL"},
		{"relative path", Config{PlatformURL: "http://p", AllowedPlatformPaths: []string{"api/x"}}, "does not start with /"},
		{"https upstream", Config{Upstream: &url.URL{Scheme: "https", Host: "proxy:443"}}, "only http://"},
		{"socks upstream", Config{Upstream: &url.URL{Scheme: "socks5", Host: "proxy:1080"}}, "only http://"},
		{"upstream without host", Config{Upstream: &url.URL{Scheme: "http"}}, "missing host"},
		{"negative timeout", Config{IdleTimeout: -1}, "negative"},
		{"negative header cap", Config{MaxHeaderBytes: -1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Upstream: &url.URL{Scheme: "http", Host: "proxy", User: url.UserPassword("u", "secret")}}); err != nil {
		t.Errorf("valid upstream: %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.connectTimeout != DefaultConnectTimeout || p.idleTimeout != DefaultIdleTimeout ||
		p.requestTimeout != DefaultRequestTimeout || p.maxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("defaults %v %v %v %d", p.connectTimeout, p.idleTimeout, p.requestTimeout, p.maxHeaderBytes)
	}
	if p.guard.Dialer == nil || p.guard.Dialer.Timeout != DefaultConnectTimeout {
		t.Error("guard dialer has no connect timeout")
	}
	if p.platform != nil {
		t.Error("platform set without PlatformURL")
	}
}

func TestRouteRequestPlatformDefaultPort(t *testing.T) {
	p, err := New(Config{PlatformURL: "http://Platform.Local", AllowedPlatformPaths: []string{"/api/runs/r/events"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"http://platform.local/api/runs/r/events", "http://PLATFORM.local:80/api/runs/r/events"} {
		r, _ := http.NewRequest(http.MethodPost, target, nil)
		rt, err := p.routeRequest(r)
		if err != nil || !rt.toPlatform || rt.url.String() != "http://platform.local:80/api/runs/r/events" {
			t.Errorf("%s: %+v, %v", target, rt, err)
		}
	}
	r, _ := http.NewRequest(http.MethodGet, "http://platform.local:8080/api/runs/r/events", nil)
	if rt, err := p.routeRequest(r); err != nil || rt.toPlatform {
		t.Errorf("another port is the platform: %+v, %v", rt, err)
	}
}
