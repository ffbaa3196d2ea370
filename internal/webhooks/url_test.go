package webhooks

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/netguard"
)

func TestValidateURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength)
	tests := []struct {
		name       string
		url        string
		allowLocal bool // outside production
		ok         bool
		msg        string // part of the error
	}{
		{"https public name", "https://hooks.example.com/appstrate?x=1", false, true, ""},
		{"https public name with port", "https://hooks.example.com:8443/in", false, true, ""},
		{"https public IPv4 literal", "https://93.184.216.34/in", false, true, ""},
		{"https public IPv6 literal", "https://[2606:2800:220:1:248:1893:25c8:1946]/in", false, true, ""},
		{"upper-case scheme", "HTTPS://hooks.example.com/", false, true, ""},
		{"idn host", "https://bücher.example/hook", false, true, ""},
		{"plain http to a public host", "http://hooks.example.com/", false, false, "https"},
		{"plain http to a public host in development", "http://hooks.example.com/", true, false, "localhost"},
		{"http localhost in development", "http://localhost:4000/hook", true, true, ""},
		{"http 127.0.0.1 in development", "http://127.0.0.1:4000/hook", true, true, ""},
		{"http [::1] in development", "http://[::1]:4000/hook", true, true, ""},
		{"https localhost in development", "https://localhost/hook", true, true, ""},
		{"localhost trailing dot in development", "http://localhost.:4000/", true, true, ""},
		{"http localhost in production", "http://localhost:4000/hook", false, false, "production"},
		{"https 127.0.0.1 in production", "https://127.0.0.1/hook", false, false, "production"},
		{"other loopback address", "http://127.0.0.2/hook", true, false, "https"},
		{"https other loopback address", "https://127.0.0.2/hook", true, false, "loopback"},
		{"private 10/8", "https://10.0.0.5/hook", true, false, "private"},
		{"private 192.168/16", "https://192.168.1.1/hook", false, false, "private"},
		{"private 172.16/12", "https://172.16.0.1/", false, false, "private"},
		{"cgnat", "https://100.64.0.1/", false, false, "cgnat"},
		{"metadata", "https://169.254.169.254/latest/meta-data", false, false, "address"},
		{"link-local v6 with zone", "https://[fe80::1%25eth0]/", false, false, "link-local"},
		{"unique local v6", "https://[fd00::1]/", false, false, "private"},
		{"ipv4-mapped loopback", "https://[::ffff:127.0.0.1]/", true, false, "loopback"},
		{"unspecified", "https://0.0.0.0/", false, false, "unspecified"},
		{"decimal IPv4 in disguise", "https://2130706433/", false, false, "numeric"},
		{"short IPv4 in disguise", "https://127.1/", false, false, "numeric"},
		{"hex IPv4 in disguise", "https://0x7f000001/", false, false, "numeric"},
		{"localhost subdomain", "https://app.localhost/", true, false, "localhost"},
		{"credentials", "https://user:pass@hooks.example.com/", false, false, "credentials"},
		{"no scheme", "hooks.example.com/in", false, false, "absolute"},
		{"ftp", "ftp://hooks.example.com/", false, false, "https"},
		{"javascript", "javascript:alert(1)", false, false, "absolute"},
		{"no host", "https:///path", false, false, "host"},
		{"port 0", "https://hooks.example.com:0/", false, false, "port"},
		{"port too large", "https://hooks.example.com:70000/", false, false, "port"},
		{"empty port", "https://hooks.example.com:/", false, false, "port"},
		{"space inside", "https://hooks.example.com/a b", false, false, "spaces"},
		{"surrounding spaces", " https://hooks.example.com/", false, false, "spaces"},
		{"control character", "https://hooks.example.com/\x00", false, false, "control"},
		{"empty", "", false, false, "absolute"},
		{"too long", long, false, false, "at most"},
		{"invalid host character", "https://hooks!.example.com/", false, false, "invalid host"},
		{"empty label", "https://hooks..example.com/", false, false, "invalid host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url, tt.allowLocal)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateURL(%q, %v) = %v, want ok=%v", tt.url, tt.allowLocal, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

// FuzzValidateURL: never panics, and whatever it accepts is an https URL with a host that is not an internal
// address literal — or, with allowLocal only, one of the three local development hosts.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/in", "http://localhost:3000/x", "https://10.0.0.1/", "https://[::1]/",
		"https://2130706433/", "https://user@x.example/", "http://[::ffff:7f00:1]/", "https://[fe80::1%25en0]:443/",
		"https://xn--bcher-kva.example/", "HTTPS://EXAMPLE.COM:443", "https://example.com:/", "//example.com/x"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowLocal bool) {
		if ValidateURL(raw, allowLocal) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", raw, err)
		}
		host := u.Hostname()
		if host == "" || u.User != nil || len(raw) > MaxURLLength {
			t.Fatalf("accepted %q (host %q, user %v)", raw, host, u.User)
		}
		if IsLocalHost(host) {
			if !allowLocal {
				t.Fatalf("accepted local %q in production", raw)
			}
			return
		}
		if !strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("accepted non-https %q", raw)
		}
		if addr, err := netip.ParseAddr(host); err == nil && netguard.Classify(addr) != "" {
			t.Fatalf("accepted internal address %q (%s)", raw, netguard.Classify(addr))
		}
		if ValidateURL(u.String(), allowLocal) != nil && u.String() == raw {
			t.Fatalf("not stable on %q", raw)
		}
	})
}
