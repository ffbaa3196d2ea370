package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Computed with Node: crypto.createHmac("sha256", secret).update(token).digest("base64") and
// encodeURIComponent(token + "." + sig), as Better Auth signs its cookies.
const (
	vectorSecret = "better-auth-secret-0123456789abcdefghij"
	vectorToken  = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	vectorCookie = "AbCdEfGhIjKlMnOpQrStUvWxYz012345.By50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D"
)

func TestCookieSignatureVector(t *testing.T) {
	s := NewCookieSigner(vectorSecret)
	if got := s.Sign(vectorToken); got != vectorCookie {
		t.Fatalf("Sign = %s, want %s", got, vectorCookie)
	}
	if v, ok := s.Verify(vectorCookie); !ok || v != vectorToken {
		t.Fatalf("Verify = %q %v", v, ok)
	}
}

func TestCookieVerifyRejectsTampering(t *testing.T) {
	s := NewCookieSigner(vectorSecret)
	tests := map[string]string{
		"other token":          "AbCdEfGhIjKlMnOpQrStUvWxYz012346.By50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D",
		"flipped signature":    "AbCdEfGhIjKlMnOpQrStUvWxYz012345.Cy50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D",
		"no padding":           "AbCdEfGhIjKlMnOpQrStUvWxYz012345.By50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY",
		"no signature":         "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
		"empty signature":      "AbCdEfGhIjKlMnOpQrStUvWxYz012345.",
		"empty value":          ".By50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D",
		"bad percent encoding": "AbCdEfGhIjKlMnOpQrStUvWxYz012345.By50%ZZiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D",
		"empty":                "",
	}
	for name, raw := range tests {
		if v, ok := s.Verify(raw); ok {
			t.Errorf("%s: accepted as %q", name, v)
		}
	}
	if _, ok := NewCookieSigner("another-secret-of-sufficient-length!!").Verify(vectorCookie); ok {
		t.Error("accepted under the wrong secret")
	}
	if _, ok := NewCookieSigner("").Verify(vectorCookie); ok {
		t.Error("a signer without secrets accepted a cookie")
	}
}

func TestCookieSecretRotation(t *testing.T) {
	old := NewCookieSigner("old-secret-0123456789abcdefghijklmnop")
	rotated := NewCookieSigner("new-secret-0123456789abcdefghijklmnop", "old-secret-0123456789abcdefghijklmnop")
	signedOld := old.Sign("tok123")
	if v, ok := rotated.Verify(signedOld); !ok || v != "tok123" {
		t.Fatal("rotated signer rejects a cookie signed with a retired key")
	}
	if _, ok := old.Verify(rotated.Sign("tok123")); ok {
		t.Fatal("the new key's signature verified under the old key alone")
	}
}

func TestEncodeURIComponent(t *testing.T) {
	for in, want := range map[string]string{
		"abc.XYZ-_~!*'()": "abc.XYZ-_~!*'()",
		"a+b/c=d":         "a%2Bb%2Fc%3Dd",
		"é ":              "%C3%A9%20",
	} {
		if got := encodeURIComponent(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestSessionTokenSources(t *testing.T) {
	a := NewAccounts(nil, Options{AppURL: "http://localhost:3000", Secret: vectorSecret})
	signedBearer := strings.NewReplacer("%2F", "/", "%3D", "=").Replace(vectorCookie)
	tests := []struct {
		name    string
		bearer  string
		cookie  string
		want    string
		wantOK  bool
		cookieN string
	}{
		{name: "cookie", cookie: vectorCookie, want: vectorToken, wantOK: true},
		{name: "raw bearer token", bearer: vectorToken, want: vectorToken, wantOK: true},
		{name: "bearer in signed cookie form", bearer: vectorCookie, want: vectorToken, wantOK: true},
		{name: "bearer signed, not URL-encoded", bearer: signedBearer, want: vectorToken, wantOK: true},
		{name: "bearer signed without padding", bearer: strings.TrimSuffix(signedBearer, "="), want: vectorToken, wantOK: true},
		{name: "bearer wins over cookie", bearer: "OtherToken123", cookie: vectorCookie, want: "OtherToken123", wantOK: true},
		{name: "API key bearer falls back to the cookie", bearer: "ask_0123456789abcdef", cookie: vectorCookie, want: vectorToken, wantOK: true},
		{name: "JWT bearer is not a session", bearer: "eyJhbGciOiJFUzI1NiJ9.e30.sig"},
		{name: "run token is not a session", bearer: "run_1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{name: "tampered cookie", cookie: strings.Replace(vectorCookie, "By50", "Cy50", 1)},
		{name: "cookie under the secure name", cookie: vectorCookie, cookieN: "__Secure-" + SessionCookieName, want: vectorToken, wantOK: true},
		{name: "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
			if tt.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			if tt.cookie != "" {
				name := tt.cookieN
				if name == "" {
					name = SessionCookieName
				}
				r.Header.Set("Cookie", name+"="+tt.cookie)
			}
			got, ok := a.SessionToken(r)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("SessionToken = %q %v, want %q %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	tests := []struct {
		appURL, domain, name string
	}{
		{"http://localhost:3000", "", "better-auth.session_token"},
		{"https://app.example.com", "example.com", "__Secure-better-auth.session_token"},
	}
	for _, tt := range tests {
		a := NewAccounts(nil, Options{AppURL: tt.appURL, Secret: vectorSecret, CookieDomain: tt.domain})
		line := a.SessionCookie(&Session{Token: vectorToken}).String()
		for _, part := range []string{tt.name + "=" + vectorCookie, "Path=/", "Max-Age=604800", "HttpOnly", "Secure", "SameSite=Lax", "Partitioned"} {
			if !strings.Contains(line, part) {
				t.Errorf("%s: %q lacks %q", tt.appURL, line, part)
			}
		}
		if tt.domain != "" && !strings.Contains(line, "Domain="+tt.domain) {
			t.Errorf("%q lacks the domain", line)
		}
		if short := a.SessionCookie(&Session{Token: vectorToken, DontRemember: true}).String(); strings.Contains(short, "Max-Age") {
			t.Errorf("rememberMe=false cookie is persistent: %q", short)
		}
		for _, c := range a.ClearSessionCookies() {
			if !strings.Contains(c.String(), "Max-Age=0") {
				t.Errorf("clearing cookie %q does not expire", c.String())
			}
		}
	}
}
