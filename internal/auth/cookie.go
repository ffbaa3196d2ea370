package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Better Auth cookie names (the `__Secure-` prefix is added when APP_URL is https).
const (
	SessionCookieName      = "better-auth.session_token"
	DontRememberCookieName = "better-auth.dont_remember"
	securePrefix           = "__Secure-"
)

// CookieSigner signs and verifies Better Auth cookie values: `<value>.<base64std(HMAC-SHA256(secret, value))>`,
// URL-encoded. It signs with the first secret and verifies against all of them (key rotation).
type CookieSigner struct {
	secrets [][]byte
}

// NewCookieSigner builds a signer; active signs, every secret (active included) verifies. Empty secrets are
// ignored; a signer without secrets verifies nothing.
func NewCookieSigner(active string, others ...string) *CookieSigner {
	s := &CookieSigner{}
	seen := map[string]bool{}
	for _, secret := range append([]string{active}, others...) {
		if secret == "" || seen[secret] {
			continue
		}
		seen[secret] = true
		s.secrets = append(s.secrets, []byte(secret))
	}
	return s
}

func sign(secret []byte, value string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(value))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the signed, URL-encoded cookie value of value (Better Auth's setSignedCookie).
func (s *CookieSigner) Sign(value string) string {
	if len(s.secrets) == 0 {
		return ""
	}
	return encodeURIComponent(value + "." + sign(s.secrets[0], value))
}

// Verify parses a cookie value as Better Auth's getSignedCookie does: URL-decode, split at the last ".",
// require a 44-char standard-base64 signature (with its "=" padding) and check it against every secret.
// It returns the signed value and whether the signature is valid.
func (s *CookieSigner) Verify(raw string) (string, bool) {
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	value, sig, ok := splitSigned(decoded)
	if !ok || len(sig) != 44 || !strings.HasSuffix(sig, "=") {
		return "", false
	}
	return value, s.check(value, sig)
}

// VerifyLenient is Verify for values handed over in an Authorization header, which clients may have
// stored URL-encoded or not and with or without the base64 padding (the Better Auth bearer plugin strips it).
func (s *CookieSigner) VerifyLenient(raw string) (string, bool) {
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	value, sig, ok := splitSigned(decoded)
	if !ok {
		return "", false
	}
	sig = strings.TrimRight(sig, "=")
	if len(sig) != 43 {
		return "", false
	}
	sig = strings.NewReplacer("-", "+", "_", "/").Replace(sig) + "="
	return value, s.check(value, sig)
}

func (s *CookieSigner) check(value, sig string) bool {
	for _, secret := range s.secrets {
		if hmac.Equal([]byte(sign(secret, value)), []byte(sig)) {
			return true
		}
	}
	return false
}

func splitSigned(v string) (value, sig string, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 1 || i == len(v)-1 {
		return "", "", false
	}
	return v[:i], v[i+1:], true
}

// encodeURIComponent escapes like JavaScript's function of that name, which Better Auth applies to cookie
// values: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded.
func encodeURIComponent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// CookieSettings are the attributes of the session cookies.
type CookieSettings struct {
	Secure bool   // APP_URL is https: names get the __Secure- prefix
	Domain string // COOKIE_DOMAIN
}

// SessionCookieName returns the session cookie name for these settings.
func (c CookieSettings) SessionCookieName() string { return c.name(SessionCookieName) }

func (c CookieSettings) name(base string) string {
	if c.Secure {
		return securePrefix + base
	}
	return base
}

// cookie builds a cookie with the Better Auth attributes of this deployment: HttpOnly; Secure;
// SameSite=Lax; Partitioned; Path=/ (+ Domain). maxAge 0 makes a browser-session cookie, < 0 deletes it.
func (c CookieSettings) cookie(base, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{
		Name: c.name(base), Value: value, Path: "/", Domain: c.Domain,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, Partitioned: true,
	}
	switch {
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		ck.MaxAge = -1
	}
	return ck
}

// BearerToken returns the credential of an `Authorization: Bearer <token>` header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}
