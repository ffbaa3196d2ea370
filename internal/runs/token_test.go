package runs

import (
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/ids"
)

func TestToken(t *testing.T) {
	id := ids.New(ids.Run)
	secret := strings.Repeat("s", 32)
	tok := Token(secret, id)
	cases := []struct {
		name, secret, token string
		ok                  bool
	}{
		{"valid", secret, tok, true},
		{"unkeyed valid", "", Token("", id), true},
		{"other secret", strings.Repeat("x", 32), tok, false},
		{"tampered mac", secret, tok[:len(tok)-1] + "0", tok[len(tok)-1] == '0'},
		{"other run", secret, ids.New(ids.Run) + tok[len(id):], false},
		{"no dot", secret, id, false},
		{"not a run id", secret, "app_x." + strings.Repeat("0", 64), false},
		{"uppercase hex", secret, strings.ToUpper(tok[len(id):]), false},
	}
	for _, c := range cases {
		got, ok := VerifyToken(c.secret, c.token)
		if ok != c.ok || (ok && got != id) {
			t.Errorf("%s: VerifyToken = %q, %v", c.name, got, ok)
		}
	}
}

func FuzzVerifyToken(f *testing.F) {
	secret := strings.Repeat("s", 32)
	f.Add(Token(secret, "run_0f8fad5b-d9cb-469f-a165-70867728950e"))
	f.Add("run_0f8fad5b-d9cb-469f-a165-70867728950e.zz")
	f.Add("")
	f.Add("...")
	f.Fuzz(func(t *testing.T, token string) {
		id, ok := VerifyToken(secret, token)
		if ok && Token(secret, id) != strings.ToLower(token) {
			t.Fatalf("accepted %q for %q", token, id)
		}
	})
}
