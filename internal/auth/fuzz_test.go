package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzCookieVerify feeds arbitrary cookie values to the signed-cookie parser: it must never panic, and
// whatever it accepts must be exactly what signing the returned value produces (no second encoding).
func FuzzCookieVerify(f *testing.F) {
	for _, seed := range []string{vectorCookie, "", ".", "a.b", "%", "%zz.%3D", vectorToken + ".",
		"a." + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "x%2Ey.By50%2FiIvmPkIxnWddWCcXSlyg2YeT5imkG6j6pVlZmY%3D"} {
		f.Add(seed)
	}
	s := NewCookieSigner(vectorSecret)
	f.Fuzz(func(t *testing.T, raw string) {
		v, ok := s.Verify(raw)
		if !ok {
			return
		}
		if back, ok2 := s.Verify(s.Sign(v)); !ok2 || back != v {
			t.Fatalf("accepted %q as %q, which does not round-trip", raw, v)
		}
		_, _ = s.VerifyLenient(raw)
	})
}

// FuzzSessionBearer feeds arbitrary Authorization headers and cookies to the session token extraction: no
// panic, and an extracted token is always a well-formed lookup key.
func FuzzSessionBearer(f *testing.F) {
	for _, seed := range [][2]string{
		{"Bearer " + vectorToken, ""}, {"Bearer " + vectorCookie, ""}, {"bearer ask_x", vectorCookie},
		{"Bearer eyJ.x.y", ""}, {"Basic abc", vectorCookie}, {"Bearer ", ""}, {"Bearer a.b.c%", "%%"},
	} {
		f.Add(seed[0], seed[1])
	}
	a := NewAccounts(nil, Options{AppURL: "http://localhost:3000", Secret: vectorSecret})
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		r.Header.Set("Authorization", authz)
		r.Header.Set("Cookie", SessionCookieName+"="+cookie)
		tok, ok := a.SessionToken(r)
		if ok && !validToken(tok) {
			t.Fatalf("extracted malformed token %q", tok)
		}
		if !ok && tok != "" {
			t.Fatalf("token %q returned with ok=false", tok)
		}
	})
}
