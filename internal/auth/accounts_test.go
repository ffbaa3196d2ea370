package auth

import "testing"

func TestIsTrustedURL(t *testing.T) {
	a := NewAccounts(nil, Options{AppURL: "https://app.example.com", TrustedOrigins: []string{"http://localhost:5173"}})
	for raw, want := range map[string]bool{
		"":                              true,
		"/":                             true,
		"/dashboard/runs?tab=1&x=%20":   true,
		"https://app.example.com/x":     true,
		"http://localhost:5173/cb":      true,
		"HTTPS://APP.EXAMPLE.COM/x":     true,
		"https://evil.example/x":        false,
		"https://app.example.com.evil/": false,
		"//evil.example":                false,
		"/\\evil.example":               false,
		"/%2F%2Fevil.example":           false,
		"/%5cevil.example":              false,
		"dashboard":                     false,
		"javascript:alert(1)":           false,
		"/x\r\nSet-Cookie: a=b":         false,
	} {
		if got := a.IsTrustedURL(raw); got != want {
			t.Errorf("IsTrustedURL(%q) = %v, want %v", raw, got, want)
		}
	}
}
