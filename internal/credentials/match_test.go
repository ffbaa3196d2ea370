package credentials

import (
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func TestMatchURI(t *testing.T) {
	tests := []struct {
		pattern, url string
		want         bool
	}{
		{"https://api.stripe.com/**", "https://api.stripe.com/v1/charges", true},
		{"https://api.stripe.com/**", "https://api.stripe.com", true},
		{"https://api.stripe.com/**", "https://api.stripe.com/", true},
		{"https://api.stripe.com/**", "https://API.Stripe.COM/v1", true},
		{"https://api.stripe.com/**", "HTTPS://api.stripe.com/v1", true},
		{"https://api.stripe.com/**", "https://api.stripe.com:443/v1", true},
		{"https://api.stripe.com/**", "https://api.stripe.com./v1", true},
		{"https://api.stripe.com/**", "https://api.stripe.com/v1/charges?limit=3&x=a/b", true},
		{"https://api.stripe.com/**", "https://api.stripe.com:8443/v1", false},
		{"https://api.stripe.com/**", "http://api.stripe.com/v1", false},
		{"https://api.stripe.com/**", "https://api.stripe.com.evil.com/v1", false},
		{"https://api.stripe.com/**", "https://evil.com/api.stripe.com/", false},
		{"https://api.stripe.com/**", "https://user:pass@api.stripe.com/v1", false},
		{"https://api.stripe.com/**", "https://api.stripe.com@evil.com/v1", false},
		{"https://api.stripe.com/**", "https://api.stripe.com/v1#frag", false},
		{"https://api.stripe.com/**", "https://api.stripe.com/v1#", false},
		{"https://api.stripe.com/**", "//api.stripe.com/v1", false},
		{"https://api.stripe.com/**", "api.stripe.com/v1", false},
		{"https://api.stripe.com/**", "", false},
		{"https://api.stripe.com/**", "javascript:alert(1)", false},

		// Host wildcards: any subdomain depth, never a different host (the upstream textual quirk).
		{"https://*.zendesk.com/**", "https://acme.zendesk.com/api/v2/tickets", true},
		{"https://*.zendesk.com/**", "https://a.b.zendesk.com/x", true},
		{"https://*.zendesk.com/**", "https://zendesk.com/x", false},
		{"https://*.zendesk.com/**", "https://evil.example?.zendesk.com/x", false},
		{"https://*.zendesk.com/**", "https://evil.example/.zendesk.com/x", false},
		{"https://*.zendesk.com/**", "https://evil.example#.zendesk.com/x", false},
		{"https://*.zendesk.com/**", `https://evil.example\.zendesk.com/x`, false},
		{"https://*.zendesk.com/**", "https://acme.zendesk.com.evil.com/", false},
		{"https://*.zendesk.com/**", "https://acme.zendesk.com@evil.com/", false},
		{"https://*.zendesk.com/**", "https://evil.com:443@acme.zendesk.com/", false},
		{"https://api-*.example.com/**", "https://api-eu.example.com/x", true},
		{"https://api-*.example.com/**", "https://api-eu.evil.com/x", false},

		// Paths: anchored, normalised before matching.
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/v1/users/me", true},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/", true},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmailx/v1", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/../drive/v3/files", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/%2e%2e/drive/v3", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/%2E%2E/drive/v3", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/.%2e/drive/v3", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/..%2fdrive/v3", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/v1/%2F..%2F..%2Fdrive", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/v1/%5C..%5Cdrive", false},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/v1/../v1/x", true},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/drive/../gmail/v1", true},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/gmail/./v1", true},
		{"https://www.googleapis.com/gmail/**", "https://www.googleapis.com/%67mail/v1", true},
		{"https://api.example.com/v1/*", "https://api.example.com/v1/items", true},
		{"https://api.example.com/v1/*", "https://api.example.com/v1/", true},
		{"https://api.example.com/v1/*", "https://api.example.com/v1/items/1", false},
		{"https://api.example.com/v1/*", "https://api.example.com/v1", false},
		{"https://api.example.com/v1/*/x", "https://api.example.com/v1/a/x", true},
		{"https://api.example.com/v1/*/x", "https://api.example.com/v1/a/b/x", false},
		{"https://api.example.com/v1/items", "https://api.example.com/v1/items", true},
		{"https://api.example.com/v1/items", "https://api.example.com/v1/items?page=2", true},
		{"https://api.example.com/v1/items", "https://api.example.com/v1/items/", false},
		{"https://api.example.com/v1/items", "https://api.example.com/V1/items", false},
		{"https://api.example.com", "https://api.example.com/", true},
		{"https://api.example.com", "https://api.example.com/x", false},
		{"https://api.example.com/a b/**", "https://api.example.com/a%20b/c", true},

		// Schemes and ports follow the pattern.
		{"http://localhost:8080/**", "http://localhost:8080/x", true},
		{"http://localhost:8080/**", "https://localhost:8080/x", false},
		{"http://localhost:8080/**", "http://localhost/x", false},
		{"http://localhost:80/**", "http://localhost/x", true},
		{"https://[::1]:8443/**", "https://[0:0::1]:8443/a", true},
		{"https://127.0.0.1/**", "https://127.0.0.1/a", true},

		// Invalid patterns never match.
		{"ftp://api.example.com/**", "ftp://api.example.com/x", false},
		{"*://api.example.com/**", "https://api.example.com/x", false},
		{"https://api.example.com/a?b=*", "https://api.example.com/a?b=1", false},
		{"https://api.example.com/../**", "https://api.example.com/x", false},
		{"https://user@api.example.com/**", "https://api.example.com/x", false},
		{"https://", "https://api.example.com/", false},
		{"https:///**", "https://api.example.com/", false},
		{"https://api.example.com:99999/**", "https://api.example.com:99999/", false},
		{"https://ex ample.com/**", "https://example.com/", false},
	}
	for _, tt := range tests {
		if got := MatchURI(tt.pattern, tt.url); got != tt.want {
			t.Errorf("MatchURI(%q, %q) = %v, want %v", tt.pattern, tt.url, got, tt.want)
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HTTPS://API.Example.COM:443", "https://api.example.com/"},
		{"https://api.example.com./v1/./a/../b/", "https://api.example.com/v1/b/"},
		{"https://api.example.com/v1/%2e%2e/%2E%2E/x", "https://api.example.com/x"},
		{"https://api.example.com/../../x", "https://api.example.com/x"},
		{"https://api.example.com/v1/..", "https://api.example.com/"},
		{"https://api.example.com/a%20b/%7Bx%7D?q=a%20b&r=1", "https://api.example.com/a%20b/%7Bx%7D?q=a%20b&r=1"},
		{"http://api.example.com:8080/x", "http://api.example.com:8080/x"},
		{"https://[::FFFF:7f00:1]/x", "https://[::ffff:127.0.0.1]/x"},
		{"https://api.example.com/bot123:ABC/getMe", "https://api.example.com/bot123:ABC/getMe"},
	}
	for _, tt := range tests {
		u, err := NormalizeURL(tt.in)
		if err != nil || u.String() != tt.want {
			t.Errorf("NormalizeURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
	for _, bad := range []string{"https://api.example.com/a%2Fb", "https://api.example.com/%00", "https://a_b..c/",
		"https://exa mple.com/", "https://api.example.com:0/", "https://api.example.com:/", "https://[fe80::1%25eth0]/",
		"file:///etc/passwd", "https://u@api.example.com/", "https:api.example.com", "https://api.example.com/%zz"} {
		if u, err := NormalizeURL(bad); err == nil || !errors.Is(err, ErrInvalidURL) {
			t.Errorf("NormalizeURL(%q) = %v, %v; want ErrInvalidURL", bad, u, err)
		}
	}
}

func TestAuthorized(t *testing.T) {
	rules := func(uris []string, all bool) ProviderRules {
		return ProviderRules{ID: "@x/p", Definition: afps.ProviderDefinition{AuthMode: "api_key", AuthorizedURIs: uris, AllowAllURIs: all}}
	}
	if err := Authorized(rules([]string{"https://api.x.com/**"}, false), "https://api.x.com/v1"); err != nil {
		t.Fatal(err)
	}
	err := Authorized(rules([]string{"https://api.x.com/**"}, false), "https://evil.com/secret-path-sk_live")
	var nae *NotAuthorizedError
	if !errors.As(err, &nae) || !errors.Is(err, ErrNotAuthorized) || nae.Host != "evil.com" || nae.ProviderID != "@x/p" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "sk_live") || !strings.Contains(err.Error(), "https://api.x.com/**") {
		t.Fatalf("message %q leaks the path or omits the allowlist", err)
	}
	// No allowlist and no allowAllUris: fail closed.
	if err := Authorized(rules(nil, false), "https://api.x.com/v1"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("empty allowlist: %v", err)
	}
	if err := Authorized(rules([]string{}, false), "https://api.x.com/v1"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("empty allowlist: %v", err)
	}
	// allowAllUris: any valid http(s) URL, still no userinfo or other schemes.
	if err := Authorized(rules(nil, true), "http://anything.example:8080/x"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"ftp://x.example/", "https://u:p@x.example/", "https://x.example/#f"} {
		if err := Authorized(rules(nil, true), bad); !errors.Is(err, ErrInvalidURL) {
			t.Fatalf("allowAll %q: %v", bad, err)
		}
	}
}

func TestValidPattern(t *testing.T) {
	for _, ok := range []string{"https://api.x.com/**", "https://*.zendesk.com/**", "http://localhost:3000/api/*", "https://[::1]/x"} {
		if !ValidPattern(ok) {
			t.Errorf("ValidPattern(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "api.x.com/**", "https://x.com/?a", "https://x.com/#", "https://x.com/../a", "https://a@x.com/", "ws://x.com/"} {
		if ValidPattern(bad) {
			t.Errorf("ValidPattern(%q) = true", bad)
		}
	}
}
