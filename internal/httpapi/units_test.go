package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		hops   int
		remote string
		xff    []string
		realIP string
		want   string
	}{
		{name: "no trust uses the socket", hops: 0, remote: "10.0.0.9:1234", xff: []string{"1.2.3.4"}, want: "10.0.0.9"},
		{name: "one hop takes the right-most entry", hops: 1, remote: "10.0.0.9:1", xff: []string{"6.6.6.6, 1.2.3.4"}, want: "1.2.3.4"},
		{name: "two hops", hops: 2, remote: "10.0.0.9:1", xff: []string{"6.6.6.6, 1.2.3.4, 10.0.0.2"}, want: "1.2.3.4"},
		{name: "repeated headers form one chain", hops: 2, remote: "10.0.0.9:1", xff: []string{"6.6.6.6", "1.2.3.4"}, want: "6.6.6.6"},
		{name: "short chain falls back to the left-most", hops: 5, remote: "10.0.0.9:1", xff: []string{"1.2.3.4, 5.6.7.8"}, want: "1.2.3.4"},
		{name: "x-real-ip when no xff", hops: 1, remote: "10.0.0.9:1", realIP: "9.9.9.9", want: "9.9.9.9"},
		{name: "garbage is ignored", hops: 1, remote: "10.0.0.9:1", xff: []string{"not-an-ip"}, want: "10.0.0.9"},
		{name: "ipv6 socket", hops: 0, remote: "[::1]:80", want: "::1"},
		{name: "ipv4-mapped ipv6 is unmapped", hops: 1, remote: "[::1]:80", xff: []string{"::ffff:1.2.3.4"}, want: "1.2.3.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			if got := ClientIP(r, tt.hops); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false},
		{"", false},
	}
	for _, tt := range tests {
		if _, ok := ParseTraceparent(tt.in); ok != tt.ok {
			t.Errorf("ParseTraceparent(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
}

func TestParseAPIVersion(t *testing.T) {
	tests := []struct{ in, code string }{
		{"2026-03-21", ""},
		{" 2026-03-21 ", ""},
		{"2026-3-21", "invalid_api_version"},
		{"2026-13-01", "invalid_api_version"},
		{"latest", "invalid_api_version"},
		{"2024-01-01", "unsupported_api_version"},
	}
	for _, tt := range tests {
		_, p := ParseAPIVersion(tt.in)
		got := ""
		if p != nil {
			got = p.Code
		}
		if got != tt.code {
			t.Errorf("ParseAPIVersion(%q) = %q, want %q", tt.in, got, tt.code)
		}
	}
}

func TestParseLimitAndOffset(t *testing.T) {
	for in, want := range map[string]int{"": 20, "5": 5, "100": 100, "101": 20, "0": 20, "-1": 20, "x": 20} {
		if got := ParseLimit(in, 20); got != want {
			t.Errorf("ParseLimit(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{"": 0, "7": 7, "-3": 0, "y": 0} {
		if got := ParseOffset(in); got != want {
			t.Errorf("ParseOffset(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestOffsetLinks(t *testing.T) {
	u, _ := url.Parse("http://localhost:3000/api/runs?status=success&limit=10&offset=10")
	got := OffsetLinks(u, Page{Limit: 10, Offset: 10, Total: 35})
	want := []string{
		`<http://localhost:3000/api/runs?limit=10&offset=20&status=success>; rel="next"`,
		`<http://localhost:3000/api/runs?limit=10&offset=0&status=success>; rel="prev"`,
		`<http://localhost:3000/api/runs?limit=10&offset=0&status=success>; rel="first"`,
		`<http://localhost:3000/api/runs?limit=10&offset=30&status=success>; rel="last"`,
	}
	if got != strings.Join(want, ", ") {
		t.Fatalf("OffsetLinks =\n%s\nwant\n%s", got, strings.Join(want, ", "))
	}
	if (Page{Limit: 10, Offset: 30, Total: 35}).HasMore(5) || !(Page{Limit: 10, Offset: 20, Total: 35}).HasMore(10) {
		t.Fatal("HasMore")
	}
}

func TestCursor(t *testing.T) {
	if _, p := ParseCursor("", "eu_a", "eu_b", 20); p == nil || p.Status != 400 {
		t.Fatal("startingAfter + endingBefore must be refused")
	}
	if _, p := ParseCursor("500", "", "", 20); p == nil || p.Param != "limit" {
		t.Fatal("limit above 100 must be refused")
	}
	c, p := ParseCursor("", "eu_a", "", 20)
	if p != nil || c.Limit != 20 {
		t.Fatalf("defaults: %+v %v", c, p)
	}
	u, _ := url.Parse("http://h/api/end-users?startingAfter=eu_a")
	links := CursorLinks(u, c, "eu_b", "eu_c", true)
	if !strings.Contains(links, `startingAfter=eu_c>; rel="next"`) || !strings.Contains(links, `endingBefore=eu_b&limit=20>; rel="prev"`) {
		t.Fatalf("links = %s", links)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	p := RateLimited("", RateLimitState{Limit: 10, Remaining: 0, Reset: 1500 * time.Millisecond, Window: time.Minute})
	h := p.GetHeaders()
	if h.Get("RateLimit") != "limit=10, remaining=0, reset=2" || h.Get("RateLimit-Policy") != "10;w=60" ||
		h.Get("Retry-After") != "2" || p.RetryAfter != 2 || p.Status != http.StatusTooManyRequests || p.Code != "rate_limited" {
		t.Fatalf("headers %v problem %+v", h, p)
	}
}

func TestProblemJSONOmitsUnsetMembers(t *testing.T) {
	b, err := NotFound("Run not found").MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{"param", "retryAfter", "errors"} {
		if strings.Contains(string(b), `"`+member+`":`) {
			t.Errorf("unset member %s serialized: %s", member, b)
		}
	}
}
