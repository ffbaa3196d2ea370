package packages

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestSetMemberKeepsOrderAndOtherMembers(t *testing.T) {
	cases := []struct {
		name, raw, key, value, want string
	}{
		{"replace in place", `{"b":1,"a":{"x":2},"c":"<&>"}`, "a", `{"y":3}`, `{"b":1,"a":{"y":3},"c":"<&>"}`},
		{"append new", `{"b":1}`, "a", `[1, 2]`, `{"b":1,"a":[1,2]}`},
		{"remove", `{"b":1,"a":2,"c":3}`, "a", "", `{"b":1,"c":3}`},
		{"remove absent", `{"b":1}`, "a", "", `{"b":1}`},
		{"empty document", ``, "a", `true`, `{"a":true}`},
		{"duplicate keys collapse to the last", `{"a":1,"b":2,"a":3}`, "b", `0`, `{"a":3,"b":0}`},
		{"unicode keys", `{"é\u00e9":1}`, "x", `2`, `{"éé":1,"x":2}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v json.RawMessage
			if c.value != "" {
				v = json.RawMessage(c.value)
			}
			got, err := apSetMember([]byte(c.raw), c.key, v)
			if err != nil || string(got) != c.want {
				t.Fatalf("got %s (%v) want %s", got, err, c.want)
			}
		})
	}
	for _, bad := range []string{`[1]`, `{"a":`, `"x"`, `{"a":1}x`} {
		if _, err := apSetMember([]byte(bad), "a", json.RawMessage(`1`)); err == nil {
			t.Errorf("apSetMember(%s) accepted", bad)
		}
	}
}

func TestDependencyHelpers(t *testing.T) {
	m := []byte(`{"dependencies":{"providers":{"@z/p":"^1.0.0","@a/p":"*"},"skills":"oops"},"providersConfiguration":{"@z/p":{"scopes":["r","w"]},"@a/p":3}}`)
	if got := apDependencyIDs(m, "providers"); !reflect.DeepEqual(got, []string{"@z/p", "@a/p"}) {
		t.Fatalf("ids %v", got)
	}
	if got := apDependencyIDs(m, "tools"); len(got) != 0 || got == nil {
		t.Fatalf("absent kind %v", got)
	}
	if got := string(apDependencyMap(m, "skills")); got != `{}` {
		t.Fatalf("malformed kind %s", got)
	}
	reqs := apProviderRequirements(m)
	want := []ProviderRequirement{{ID: "@z/p", Range: "^1.0.0", Scopes: []string{"r", "w"}}, {ID: "@a/p", Range: "*", Scopes: []string{}}}
	if !reflect.DeepEqual(reqs, want) {
		t.Fatalf("requirements %+v", reqs)
	}
	if got := apDependencyIDs([]byte(`not json`), "providers"); len(got) != 0 {
		t.Fatalf("garbage %v", got)
	}
}

func TestManifestInfoIsLenient(t *testing.T) {
	info := apManifestInfo([]byte(`{"displayName":3,"description":"d","version":"1.0.0","keywords":["a",2,"b"],"author":null}`))
	if info.DisplayName != "" || info.Description != "d" || info.Version != "1.0.0" || !reflect.DeepEqual(info.Keywords, []string{"a", "b"}) {
		t.Fatalf("info %+v", info)
	}
}

func TestEffectiveConfig(t *testing.T) {
	m := []byte(`{"config":{"schema":{"type":"object","properties":{"a":{"default":1},"b":{"type":"string"}}},"uiHints":{"b":{"placeholder":"x"}}}}`)
	got, err := apEffectiveConfig(m, []byte(`{"b":"y"}`))
	if err != nil || string(got) != `{"schema":{"type":"object","properties":{"a":{"default":1},"b":{"type":"string"}}},"uiHints":{"b":{"placeholder":"x"}},"current":{"a":1,"b":"y"}}` {
		t.Fatalf("%s %v", got, err)
	}
	got, err = apEffectiveConfig([]byte(`{}`), nil)
	if err != nil || string(got) != `{"schema":{"type":"object","properties":{}},"current":{}}` {
		t.Fatalf("no config: %s %v", got, err)
	}
	// A schema that does not compile leaves the stored config as is.
	got, err = apEffectiveConfig([]byte(`{"config":{"schema":{"type":"nope"}}}`), []byte(`{"k":1}`))
	if err != nil || string(got) != `{"schema":{"type":"nope"},"current":{"k":1}}` {
		t.Fatalf("bad schema: %s %v", got, err)
	}
}

// FuzzSetMember edits arbitrary documents: it never panics, and a successful edit is a JSON object holding
// the new member.
func FuzzSetMember(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{}`, `{"dependencies":{"skills":{"@a/b":"^1.0.0"}}}`, `{"a":1,"a":2}`, `[]`, `{"a":"\ud800"}`, ``} {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		out, err := apSetMember(raw, key, json.RawMessage(`{"x":[1,2]}`))
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("edit of %q produced %q: %v", raw, out, err)
		}
		if _, ok := obj[key]; !ok && utf8.ValidString(key) {
			t.Fatalf("member %q missing in %s", key, out)
		}
		_ = apDependencyIDs(raw, key)
		_ = apProviderRequirements(raw)
	})
}
