package providers

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func TestAuthorizationURL(t *testing.T) {
	comma := ","
	noPKCE := false
	tests := []struct {
		name      string
		o         afps.OAuth2Config
		scopes    []string
		challenge string
		want      url.Values
	}{
		{name: "PKCE and space-separated scopes",
			o:      afps.OAuth2Config{AuthorizationURL: "https://idp.test/authorize"},
			scopes: []string{"read", "write"}, challenge: "ch",
			want: url.Values{"client_id": {"cid"}, "redirect_uri": {"http://app.test/api/connections/callback"},
				"response_type": {"code"}, "state": {"st"}, "scope": {"read write"}, "code_challenge": {"ch"},
				"code_challenge_method": {"S256"}}},
		{name: "comma separator, existing query kept, params override",
			o: afps.OAuth2Config{AuthorizationURL: "https://idp.test/authorize?audience=api", ScopeSeparator: &comma,
				PKCEEnabled: &noPKCE, AuthorizationParams: map[string]string{"access_type": "offline", "response_type": "code id_token"}},
			scopes: []string{"a", "b"},
			want: url.Values{"client_id": {"cid"}, "redirect_uri": {"http://app.test/api/connections/callback"},
				"response_type": {"code id_token"}, "state": {"st"}, "scope": {"a,b"}, "audience": {"api"},
				"access_type": {"offline"}}},
		{name: "no scopes: no scope member",
			o:    afps.OAuth2Config{AuthorizationURL: "https://idp.test/authorize"},
			want: url.Values{"client_id": {"cid"}, "redirect_uri": {"http://app.test/api/connections/callback"}, "response_type": {"code"}, "state": {"st"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := AuthorizationURL(&tt.o, "cid", "http://app.test/api/connections/callback", "st", tt.scopes, tt.challenge)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(raw)
			if got := u.Query(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("query = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := AuthorizationURL(&afps.OAuth2Config{AuthorizationURL: "javascript:alert(1)"}, "c", "r", "s", nil, ""); err == nil {
		t.Fatal("non-http authorization URL accepted")
	}
}

func TestPKCEPair(t *testing.T) {
	v, c := pkcePair()
	if len(v) != 43 {
		t.Fatalf("verifier %q has %d characters", v, len(v))
	}
	sum := sha256.Sum256([]byte(v))
	if c != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatal("challenge is not S256(verifier)")
	}
	if v2, _ := pkcePair(); v2 == v {
		t.Fatal("verifiers repeat")
	}
}

func TestScopes(t *testing.T) {
	if got := unionScopes([]string{"a", "b"}, []string{"b", " c ", ""}); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("union = %v", got)
	}
	if got := SplitScopes("a b,c%20d  a"); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("split = %v", got)
	}
	short, creep := scopeDiff([]string{"a", "b"}, []string{"b", "c"})
	if !reflect.DeepEqual(short, []string{"a"}) || !reflect.DeepEqual(creep, []string{"c"}) {
		t.Fatalf("diff = %v %v", short, creep)
	}
}

func TestParseTokenBody(t *testing.T) {
	tests := []struct {
		name, body, ct string
		access         string
		expires        int64
		hasExpiry      bool
	}{
		{"json", `{"access_token":"at","expires_in":3600,"refresh_token":"rt"}`, "application/json", "at", 3600, true},
		{"json string expiry", `{"access_token":"at","expires_in":"60"}`, "application/json; charset=utf-8", "at", 60, true},
		{"json no expiry", `{"access_token":"at","expires_in":null}`, "application/json", "at", 0, false},
		{"form (GitHub without Accept)", `access_token=at&scope=repo&token_type=bearer`, "application/x-www-form-urlencoded", "at", 0, false},
		{"json served as text", `{"access_token":"at"}`, "text/plain", "at", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseTokenBody([]byte(tt.body), tt.ct)
			if f["access_token"] != tt.access {
				t.Fatalf("access_token = %v", f["access_token"])
			}
			n, ok := expiresIn(f["expires_in"])
			if n != tt.expires || ok != tt.hasExpiry {
				t.Fatalf("expires_in = %d %v", n, ok)
			}
		})
	}
}

// FuzzParseTokenBody: token endpoint answers are untrusted; parsing never panics and expiries are read only
// from numbers or digit strings.
func FuzzParseTokenBody(f *testing.F) {
	f.Add([]byte(`{"access_token":"at","expires_in":3600,"scope":"a b"}`), "application/json")
	f.Add([]byte(`access_token=at&expires_in=12`), "application/x-www-form-urlencoded")
	f.Add([]byte(`{"expires_in":1e400}`), "")
	f.Add([]byte(`{"a":`), "application/json")
	f.Add([]byte("%zz=1&&=\x00"), "text/html")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		fields := parseTokenBody(body, ct)
		if n, ok := expiresIn(fields["expires_in"]); ok && n < 0 && !strings.Contains(string(body), "-") {
			t.Fatalf("negative expiry %d from %q", n, body)
		}
		_ = SplitScopes(strings.TrimSpace(string(body)))
	})
}
