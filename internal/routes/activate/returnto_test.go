package activate

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "/activate",
		"/activate?user_code=BCDFGHJK":   "/activate?user_code=BCDFGHJK",
		"/agents/@acme/hello#connectors": "/agents/@acme/hello#connectors",
		"//evil.example":                 "/activate",
		"/\\evil.example":                "/activate",
		"https://evil.example/":          "/activate",
		"javascript:alert(1)":            "/activate",
		"/%2F%2Fevil.example":            "/activate",
		"/a\r\nSet-Cookie: x=y":          "/activate",
		"activate":                       "/activate",
		"/" + strings.Repeat("a", 3000):  "/activate",
	} {
		if got := SafeReturnTo(in); got != want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeReturnTo: the result is always a path on this site.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/activate", "//x", "/\\x", "https://x", "/%2f%2fx", "/a?b=c#d", "\x00", "/@x", "/.//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeReturnTo(in)
		if out != in && out != "/activate" {
			t.Fatalf("SafeReturnTo(%q) = %q", in, out)
		}
		u, err := url.Parse(out)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") ||
			strings.HasPrefix(out, "/\\") || strings.ContainsAny(out, "\r\n\x00\\") {
			t.Fatalf("SafeReturnTo(%q) = %q leaves the site", in, out)
		}
		// Browsers resolve the Location against the app: it must stay on the same origin.
		base, _ := url.Parse("http://localhost:3000/auth/login")
		if ref := base.ResolveReference(u); ref.Host != "localhost:3000" {
			t.Fatalf("SafeReturnTo(%q) = %q resolves to %s", in, out, ref)
		}
	})
}
