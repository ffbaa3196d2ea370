package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer ask_abc", "ask_abc", true},
		{"bearer ask_abc", "ask_abc", true},
		{"BEARER\task_abc", "ask_abc", true},
		{"  Bearer   ask_abc  ", "ask_abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearerask_abc", "", false},
		{"Basic ask_abc", "", false},
		{"Bearer ask_abc extra", "", false},
		{"Bearer ask_a\nbc", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		token, ok := ParseBearer(tc.header)
		if token != tc.token || ok != tc.ok {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", tc.header, token, ok, tc.token, tc.ok)
		}
	}
}

func TestGenerateAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		raw, hash, prefix, err := GenerateAPIKey()
		if err != nil || !WellFormedAPIKey(raw) || prefix != raw[:8] || hash != HashAPIKey(raw) || len(hash) != 64 || seen[raw] {
			t.Fatalf("GenerateAPIKey() = %q %q %q %v", raw, hash, prefix, err)
		}
		seen[raw] = true
	}
	// SHA-256 hex of the full key, as upstream stores it.
	if got := HashAPIKey("ask_" + strings.Repeat("0", 48)); got != "f2dd020c44193dad8174e3318999e8e3dd68b8414d05af7cb4cf73d10cecdc38" {
		t.Fatalf("HashAPIKey = %s", got)
	}
}

func TestWellFormedAPIKey(t *testing.T) {
	good := "ask_" + strings.Repeat("a1", 24)
	for key, want := range map[string]bool{
		good:                              true,
		good[:len(good)-1]:                false,
		good + "0":                        false,
		"ASK_" + good[4:]:                 false,
		"ask_" + strings.Repeat("A1", 24): false,
		"ask_" + strings.Repeat("g1", 24): false,
		"ask_":                            false,
		"":                                false,
		"pk__" + good[4:]:                 false,
		"ask_" + strings.Repeat("é", 24):  false,
	} {
		if got := WellFormedAPIKey(key); got != want {
			t.Errorf("WellFormedAPIKey(%q) = %v", key, got)
		}
	}
}

func TestAPIKeyCredentialSources(t *testing.T) {
	key := "ask_" + strings.Repeat("0", 48)
	tests := []struct {
		method, target, auth string
		want                 string
	}{
		{"GET", "/api/runs", "Bearer " + key, key},
		{"GET", "/api/runs", "Bearer eyJ.x.y", ""},                 // a JWT: another strategy's
		{"GET", "/api/realtime/runs?token=" + key, "", key},        // SSE
		{"GET", "/api/realtime/runs?token=eyJ", "", ""},            // not an API key
		{"POST", "/api/realtime/runs?token=" + key, "", ""},        // GET only
		{"GET", "/api/runs?token=" + key, "", ""},                  // realtime only
		{"GET", "/api/realtimes?token=" + key, "", ""},             // prefix, not substring
		{"GET", "/api/realtime/runs?token=" + key, "Basic x", key}, // a foreign scheme does not hide the query token
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		got, ok := apiKeyCredential(r)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s (%q) = %q, %v", tc.method, tc.target, tc.auth, got, ok)
		}
	}
}

// FuzzParseBearer: whatever the header, a claimed token is one non-empty run without blanks that appears in
// the header after a case-insensitive "bearer" scheme.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer ask_" + strings.Repeat("0", 48), "bearer x", "BEARER\tx", "Bearer", "Bearer  ", "Basic abc",
		"Bearer a b", "\x00Bearer x", "Bearer \xff\xfe", "Bearer\u00a0x", " Bearer x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := ParseBearer(header)
		if !ok {
			if token != "" {
				t.Fatalf("token %q without ok", token)
			}
			return
		}
		if token == "" || strings.ContainsAny(token, " \t\r\n") || !strings.Contains(header, token) {
			t.Fatalf("ParseBearer(%q) = %q", header, token)
		}
		trimmed := strings.Trim(header, " \t")
		if len(trimmed) < 7 || !strings.EqualFold(trimmed[:6], "bearer") {
			t.Fatalf("ParseBearer(%q) claimed a non-bearer header", header)
		}
		// The credential extraction built on it never panics and only claims ask_ tokens.
		r := httptest.NewRequest("GET", "/api/runs", nil)
		r.Header["Authorization"] = []string{header}
		if cred, ok := apiKeyCredential(r); ok && (!strings.HasPrefix(cred, APIKeyPrefix) || cred != token) {
			t.Fatalf("credential %q from %q", cred, header)
		}
	})
}
