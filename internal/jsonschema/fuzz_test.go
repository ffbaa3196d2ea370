package jsonschema

import (
	"encoding/json"
	"testing"
)

// FuzzCompileValidate feeds arbitrary schema and instance documents through Compile, Validate and
// ApplyDefaults: none may panic, every error path must be well formed, and applying defaults must keep the
// instance encodable.
func FuzzCompileValidate(f *testing.F) {
	seeds := [][2]string{
		{`{"type":"object","properties":{"a":{"type":"string","default":"x"}},"required":["a"]}`, `{}`},
		{`{"$schema":"http://json-schema.org/draft-07/schema#","items":[{"type":"string"}],"additionalItems":false}`, `["a",1]`},
		{`{"$defs":{"n":{"properties":{"c":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}`, `{"c":{"c":{"c":1}}}`},
		{`{"allOf":[{"$ref":"#"}]}`, `{}`},
		{`{"anyOf":[{"format":"email"},{"format":"uri"}]}`, `"x"`},
		{`{"prefixItems":[{"default":1}],"items":{"default":{}}}`, `[]`},
		{`{"$dynamicAnchor":"a","properties":{"x":{"$dynamicRef":"#a"}}}`, `{"x":{"x":2}}`},
		{`{"$id":"https://e.example/a","$ref":"b.json"}`, `1`},
		{`{"pattern":"^(a+)+$","minLength":1}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`},
		{`{"multipleOf":1e-300,"maximum":1e308}`, `1e308`},
		{`{"dependentSchemas":{"a":{"required":["b"]}},"unevaluatedProperties":false}`, `{"a":1}`},
		{`true`, `null`},
		{`{"properties":{"0":{"default":[]}}}`, `{"0":[1]}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, schema, instance []byte) {
		s, err := Compile(schema)
		if err != nil {
			return
		}
		v, err := Decode(instance)
		if err != nil {
			return
		}
		for _, e := range s.Validate(v) {
			if e.Code == "" || e.Message == "" {
				t.Fatalf("incomplete error %+v", e)
			}
		}
		out := ApplyDefaults(s, v)
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("defaults produced an unencodable value: %v", err)
		}
		_ = s.Validate(out)
	})
}
