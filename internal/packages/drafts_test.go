package packages

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestSetJSONMember(t *testing.T) {
	cases := []struct {
		obj   string
		key   string
		value any
		first bool
		want  string
	}{
		{`{"name":"@a/b","version":"1.0.0"}`, "version", "2.0.0", false, `{"name":"@a/b","version":"2.0.0"}`},
		{`{ "name" : "@a/b" }`, "$schema", "https://x", true, `{"$schema":"https://x","name":"@a/b"}`},
		{`{"name":"@a/b"}`, "tool", map[string]any{"name": "t"}, false, `{"name":"@a/b","tool":{"name":"t"}}`},
		{`{"b":1.50,"a":{"z":[1, 2]}}`, "c", "<&>", false, `{"b":1.50,"a":{"z":[1,2]},"c":"<&>"}`},
		{`{}`, "k", nil, false, `{"k":null}`},
	}
	for _, tc := range cases {
		got, err := setJSONMember([]byte(tc.obj), tc.key, tc.value, tc.first)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s + %s: got %s, %v; want %s", tc.obj, tc.key, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":1`, `{"a":1}{}`, `{"a":1} x`} {
		if _, err := setJSONMember([]byte(bad), "k", 1, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzSetJSONMember(f *testing.F) {
	for _, s := range []string{`{"name":"@a/b","version":"1.0.0"}`, `{}`, `{"a":[1,{"b":null}],"c":"\u2028"}`, `{"a":1,"a":2}`, `[1]`, `{"`} {
		f.Add(s, "version")
	}
	f.Fuzz(func(t *testing.T, obj, key string) {
		if !utf8.ValidString(key) {
			return // keys are the platform's own constants
		}
		out, err := setJSONMember([]byte(obj), key, "v", false)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%q → invalid JSON %q: %v", obj, out, err)
		}
		var v string
		if json.Unmarshal(m[key], &v) != nil || v != "v" {
			t.Fatalf("%q → %q: member %q not set", obj, out, key)
		}
	})
}

func TestValidateToolSource(t *testing.T) {
	cases := []struct {
		src string
		ok  bool
	}{
		{"export default function (pi) { pi.registerTool({ name: 'echo', async execute(id, params, signal) {} }) }", true},
		{"export default (pi) => pi.registerTool({ name: \"x\", execute: async (toolCallId, params) => ({ content: [] }) })", true},
		{"", false},
		{"   \n", false},
		{"module.exports = function () {}", false},
		{"export default function (pi) { pi.registerTool({ name: \"\", execute(a, b) {} }) }", false},
		{"export default function (pi) { pi.registerTool({ name: 'x', execute(params) {} }) }", false},
		{"export default function (pi) { pi.registerTool({ name: 'x', execute: async (params: any) => ({}) }) }", false},
	}
	for _, tc := range cases {
		if got := validateToolSource(tc.src) == ""; got != tc.ok {
			t.Errorf("%q: ok=%v, want %v (%s)", tc.src, got, tc.ok, validateToolSource(tc.src))
		}
	}
}

func TestDraftHelpers(t *testing.T) {
	m := []byte(`{"dependencies":{"skills":{"@a/s":"^1"},"providers":{"@a/p":"*"},"x-other":{"@a/x":"1"}}}`)
	for id, want := range map[string]bool{"@a/s": true, "@a/p": true, "@a/x": false, "@a/none": false} {
		if draftDependsOn(m, id) != want {
			t.Errorf("depends on %s: want %v", id, want)
		}
	}
	if draftDependsOn([]byte(`not json`), "@a/s") {
		t.Error("invalid manifest depends")
	}
	if !sameJSONDocument([]byte(`{"a":1,"b":[1,2]}`), []byte(`{"b": [1, 2], "a": 1}`)) ||
		sameJSONDocument([]byte(`{"a":1}`), []byte(`{"a":1.0}`)) || sameJSONDocument([]byte(`{`), []byte(`{`)) {
		t.Error("sameJSONDocument")
	}
	for in, want := range map[string]string{"tool.ts": "tool.ts", "./src//tool.ts": "src/tool.ts", "../x": "", "/abs": "", "a\\b": "", "": ""} {
		if got := cleanRelPath(in); got != want {
			t.Errorf("cleanRelPath(%q) = %q, want %q", in, got, want)
		}
	}
	if CreatedMessage("tool") != "Tool created" {
		t.Error(CreatedMessage("tool"))
	}
}
