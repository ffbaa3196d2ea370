package credentials

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// FuzzMatchURI: any URL matching `https://api.example.com/v1/**` has, by an independent parse, scheme https,
// host api.example.com, the default port, no userinfo or fragment, and a cleaned path under /v1/; any URL
// matching `https://*.example.com/**` has a host under example.com. Arbitrary patterns never panic.
func FuzzMatchURI(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/v1/x", "https://api.example.com/v1/../admin", "https://api.example.com/v1/%2e%2e/admin",
		"https://api.example.com/v1/..%2fadmin", "https://api.example.com.evil.com/v1/", "https://evil.com?.example.com/v1/",
		"https://evil.com#.example.com/v1/", "https://api.example.com@evil.com/v1/", "HTTPS://API.EXAMPLE.COM:443/v1/a?b#c",
		"https://api.example.com./v1/./x", "https://api.example.com/v1/%2E%2E%2Fadmin", `https://api.example.com\@evil.com/v1/`,
		"https://[::1]/v1/", "https://api.example.com:8443/v1/", "https://a.b.example.com/x",
	} {
		f.Add(s, "https://*.example.com/**")
	}
	f.Fuzz(func(t *testing.T, raw, pattern string) {
		_ = MatchURI(pattern, raw)
		_ = ValidPattern(pattern)
		if MatchURI("https://api.example.com/v1/**", raw) {
			u := independent(t, raw)
			if u.Hostname() != "api.example.com" {
				t.Fatalf("%q matched with host %q", raw, u.Hostname())
			}
			clean := path.Clean("/" + u.Path)
			if clean != "/v1" && !strings.HasPrefix(clean, "/v1/") {
				t.Fatalf("%q matched with path %q (cleaned %q)", raw, u.Path, clean)
			}
			n, err := NormalizeURL(raw)
			if err != nil || !strings.HasPrefix(n.Path, "/v1/") || n.Host != "api.example.com" || n.Scheme != "https" {
				t.Fatalf("%q matched but normalises to %v, %v", raw, n, err)
			}
		}
		if MatchURI("https://*.example.com/**", raw) {
			u := independent(t, raw)
			if !strings.HasSuffix(u.Hostname(), ".example.com") {
				t.Fatalf("%q matched *.example.com with host %q", raw, u.Hostname())
			}
		}
	})
}

// independent parses a matched URL with net/url alone and checks the properties every match must have.
func independent(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q matched but does not parse: %v", raw, err)
	}
	if strings.ToLower(u.Scheme) != "https" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		t.Fatalf("%q matched: scheme %q, user %v, fragment %q", raw, u.Scheme, u.User, u.Fragment)
	}
	if p := u.Port(); p != "" && p != "443" && strings.TrimLeft(p, "0") != "443" {
		t.Fatalf("%q matched with port %q", raw, p)
	}
	u.Host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return u
}

// FuzzInjectPlaceholders: building and injecting a request never panics; when it succeeds the request goes
// to an authorized host over https with no CR/LF in any header, and the credential header is present; when
// an existing request is refused, it is left untouched.
func FuzzInjectPlaceholders(f *testing.F) {
	rules := ProviderRules{ID: "@t/zd", Definition: afps.ProviderDefinition{
		AuthMode:               afps.AuthAPIKey,
		Credentials:            &afps.CredentialsConfig{FieldName: "api_key"},
		CredentialHeaderName:   "Authorization",
		CredentialHeaderPrefix: "Basic",
		CredentialTransform:    &afps.CredentialTransform{Template: "{{email}}/token:{{api_key}}", Encoding: "base64"},
		AuthorizedURIs:         []string{"https://*.zendesk.com/**", "https://api.example.com/v1/**"},
	}}
	seeds := [][3]string{
		{"https://{{subdomain}}.zendesk.com/api/v2/x?k={{api_key}}", "acme", "{{X-Key: {{api_key}}"},
		{"https://{{subdomain}}/api", "evil.com", ""},
		{"https://{{ subdomain }}.zendesk.com/{{api_key}}", "a.b", "Bearer{{api_key}}"},
		{"{{subdomain}}/v1/x", "https://api.example.com", "{{email}}"},
		{"https://api.example.com/v1/{{subdomain}}", "../../admin", ""},
		{"https://api.example.com/v1/x#{{subdomain}}", "a", ""},
		{"https://{{subdomain}}.zendesk.com/", "evil.com?", "\r\n"},
		{"https://api.example.com/v1/%7B%7Bsubdomain%7D%7D", "a", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], "key", s[2])
	}
	f.Fuzz(func(t *testing.T, target, sub, key, hdr string) {
		creds := map[string]string{"subdomain": sub, "api_key": key, "email": "a@b.co"}
		header := http.Header{"X-Custom": {hdr}}
		req, err := NewRequest(context.Background(), http.MethodGet, target, header, nil, rules, creds, Options{})
		if err == nil {
			checkInjected(t, req, key)
		}
		// An existing request: refused ones stay untouched.
		req2, perr := http.NewRequest(http.MethodGet, target, nil)
		if perr != nil {
			return
		}
		req2.Header.Set("X-Custom", hdr)
		before, beforeHdr := req2.URL.String(), req2.Header.Get("X-Custom")
		if err := Inject(req2, rules, creds); err != nil {
			if req2.URL.String() != before || req2.Header.Get("X-Custom") != beforeHdr || req2.Header.Get("Authorization") != "" {
				t.Fatalf("refused request was modified")
			}
			return
		}
		checkInjected(t, req2, key)
	})
}

func checkInjected(t *testing.T, req *http.Request, key string) {
	t.Helper()
	host := req.URL.Hostname()
	if req.URL.Scheme != "https" || req.URL.User != nil || req.URL.Fragment != "" || req.URL.Port() != "" {
		t.Fatalf("injected into %s", req.URL)
	}
	if host != "api.example.com" && !strings.HasSuffix(host, ".zendesk.com") {
		t.Fatalf("injected into host %q (%s)", host, req.URL)
	}
	if req.Host != req.URL.Host {
		t.Fatalf("Host %q differs from URL host %q", req.Host, req.URL.Host)
	}
	if host == "api.example.com" {
		if c := path.Clean(req.URL.Path); c != "/v1" && !strings.HasPrefix(c, "/v1/") {
			t.Fatalf("injected outside /v1/: %s", req.URL.Path)
		}
	}
	for name, vs := range req.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %s has CR/LF", name)
			}
		}
	}
	if key != "" && !strings.ContainsAny(key, "\r\n\x00") && req.Header.Get("Authorization") == "" {
		t.Fatal("credential header missing on an authorized request")
	}
}
