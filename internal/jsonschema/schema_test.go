package jsonschema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustCompile(t *testing.T, schema string) *Schema {
	t.Helper()
	s, err := Compile([]byte(schema))
	if err != nil {
		t.Fatalf("compile %s: %v", schema, err)
	}
	return s
}

func mustDecode(t *testing.T, doc string) any {
	t.Helper()
	v, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return v
}

const draft07 = `"$schema":"http://json-schema.org/draft-07/schema#",`
const draft2020 = `"$schema":"https://json-schema.org/draft/2020-12/schema",`

func TestValidate(t *testing.T) {
	object := `{"type":"object","properties":{
		"name":{"type":"string","minLength":2,"maxLength":5},
		"count":{"type":"integer","minimum":1,"maximum":10},
		"ratio":{"type":"number","exclusiveMinimum":0,"multipleOf":0.5},
		"email":{"type":"string","format":"email"},
		"site":{"type":"string","format":"uri"},
		"when":{"type":"string","format":"date-time"},
		"id":{"type":"string","format":"uuid"},
		"mode":{"enum":["a","b"]},
		"tags":{"type":"array","items":{"type":"string"},"maxItems":2,"uniqueItems":true},
		"nested":{"type":"object","properties":{"deep":{"type":"boolean"}},"required":["deep"]},
		"code":{"type":"string","pattern":"^[A-Z]{3}$"}
	},"required":["name"]}`
	cases := []struct {
		name   string
		schema string
		value  string
		want   []FieldError
	}{
		{"valid", object, `{"name":"abc","count":3,"email":"a@b.co","site":"https://x.y/z","when":"2026-06-03T12:00:00Z","id":"0b4f3a8e-2b0c-4f5e-9d7a-1c2b3d4e5f60","mode":"a","tags":["x"],"nested":{"deep":true},"code":"ABC","ratio":1.5}`, nil},
		{"required at root", object, `{}`, []FieldError{{"name", CodeRequired, "must have required property 'name'"}}},
		{"type", object, `{"name":3}`, []FieldError{{"name", CodeInvalidType, "must be string"}}},
		{"integer", object, `{"name":"ab","count":1.5}`, []FieldError{{"count", CodeInvalidType, "must be integer"}}},
		{"minimum", object, `{"name":"ab","count":0}`, []FieldError{{"count", CodeOutOfRange, "must be >= 1"}}},
		{"maximum", object, `{"name":"ab","count":11}`, []FieldError{{"count", CodeOutOfRange, "must be <= 10"}}},
		{"exclusive minimum", object, `{"name":"ab","ratio":0}`, []FieldError{{"ratio", CodeOutOfRange, "must be > 0"}}},
		{"multipleOf", object, `{"name":"ab","ratio":0.7}`, []FieldError{{"ratio", CodeOutOfRange, "must be multiple of 0.5"}}},
		{"minLength", object, `{"name":"a"}`, []FieldError{{"name", CodeOutOfRange, "must NOT have fewer than 2 characters"}}},
		{"maxLength", object, `{"name":"abcdef"}`, []FieldError{{"name", CodeOutOfRange, "must NOT have more than 5 characters"}}},
		{"email format", object, `{"name":"ab","email":"nope"}`, []FieldError{{"email", CodeInvalidFmt, `must match format "email"`}}},
		{"uri format", object, `{"name":"ab","site":"not a uri"}`, []FieldError{{"site", CodeInvalidFmt, `must match format "uri"`}}},
		{"date-time format", object, `{"name":"ab","when":"yesterday"}`, []FieldError{{"when", CodeInvalidFmt, `must match format "date-time"`}}},
		{"uuid format", object, `{"name":"ab","id":"123"}`, []FieldError{{"id", CodeInvalidFmt, `must match format "uuid"`}}},
		{"enum", object, `{"name":"ab","mode":"c"}`, []FieldError{{"mode", CodeInvalidValue, "must be equal to one of the allowed values"}}},
		{"array item path", object, `{"name":"ab","tags":["x",2]}`, []FieldError{{"tags[1]", CodeInvalidType, "must be string"}}},
		{"maxItems", object, `{"name":"ab","tags":["x","y","z"]}`, []FieldError{{"tags", CodeOutOfRange, "must NOT have more than 2 items"}}},
		{"uniqueItems", object, `{"name":"ab","tags":["x","x"]}`, []FieldError{{"tags", CodeInvalidValue, "must NOT have duplicate items (items ## 1 and 0 are identical)"}}},
		{"nested required", object, `{"name":"ab","nested":{}}`, []FieldError{{"nested.deep", CodeRequired, "must have required property 'deep'"}}},
		{"pattern", object, `{"name":"ab","code":"abc"}`, []FieldError{{"code", CodeInvalidFmt, `must match pattern "^[A-Z]{3}$"`}}},
		{"several errors sorted by path", object, `{"count":"x","name":1}`, []FieldError{
			{"count", CodeInvalidType, "must be integer"}, {"name", CodeInvalidType, "must be string"}}},
		{"root type", object, `[]`, []FieldError{{"", CodeInvalidType, "must be object"}}},
		{"additionalProperties", `{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"a":1,"b":2,"c":3}`,
			[]FieldError{{"b", CodeUnknownField, "must NOT have additional properties"}, {"c", CodeUnknownField, "must NOT have additional properties"}}},
		{"anyOf reported once", `{"type":"object","properties":{"v":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`, `{"v":true}`,
			[]FieldError{{"v", CodeInvalidUnion, "must match a schema in anyOf"}}},
		{"oneOf reported once", `{"properties":{"v":{"oneOf":[{"type":"number"},{"type":"integer"}]}}}`, `{"v":1}`,
			[]FieldError{{"v", CodeInvalidUnion, "must match exactly one schema in oneOf"}}},
		{"const", `{"properties":{"v":{"const":1}}}`, `{"v":2}`, []FieldError{{"v", CodeInvalidValue, "must be equal to constant"}}},
		{"numeric key is not an index", `{"properties":{"0":{"type":"string"}}}`, `{"0":1}`, []FieldError{{"0", CodeInvalidType, "must be string"}}},
		{"large integers are exact", `{"properties":{"n":{"maximum":9007199254740993}}}`, `{"n":9007199254740994}`,
			[]FieldError{{"n", CodeOutOfRange, "must be <= 9007199254740993"}}},
		// draft-07
		{"draft-07 valid", `{` + draft07 + `"type":"object","properties":{"a":{"type":"string","format":"email"}},"definitions":{"x":{"type":"integer"}}}`, `{"a":"x@y.fr"}`, nil},
		{"draft-07 format asserted", `{` + draft07 + `"type":"object","properties":{"a":{"type":"string","format":"email"}}}`, `{"a":"x"}`,
			[]FieldError{{"a", CodeInvalidFmt, `must match format "email"`}}},
		{"draft-07 tuple items", `{` + draft07 + `"properties":{"t":{"type":"array","items":[{"type":"string"},{"type":"integer"}]}}}`, `{"t":["a","b"]}`,
			[]FieldError{{"t[1]", CodeInvalidType, "must be integer"}}},
		{"draft-07 definitions ref", `{` + draft07 + `"properties":{"n":{"$ref":"#/definitions/pos"}},"definitions":{"pos":{"type":"integer","minimum":0}}}`, `{"n":-1}`,
			[]FieldError{{"n", CodeOutOfRange, "must be >= 0"}}},
		{"draft-07 exclusiveMaximum number", `{` + draft07 + `"properties":{"n":{"exclusiveMaximum":5}}}`, `{"n":5}`,
			[]FieldError{{"n", CodeOutOfRange, "must be < 5"}}},
		// 2020-12
		{"2020-12 prefixItems", `{` + draft2020 + `"properties":{"t":{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}}}`, `{"t":["a",1,"b"]}`,
			[]FieldError{{"t[2]", CodeInvalidType, "must be integer"}}},
		{"2020-12 $defs ref", `{` + draft2020 + `"properties":{"n":{"$ref":"#/$defs/pos"}},"$defs":{"pos":{"type":"integer","minimum":0}}}`, `{"n":-1}`,
			[]FieldError{{"n", CodeOutOfRange, "must be >= 0"}}},
		{"2020-12 dependentRequired", `{` + draft2020 + `"dependentRequired":{"a":["b"]}}`, `{"a":1}`,
			[]FieldError{{"b", CodeRequired, "must have property b when property a is present"}}},
		{"2020-12 unevaluatedProperties", `{` + draft2020 + `"properties":{"a":{}},"unevaluatedProperties":false}`, `{"a":1,"z":2}`,
			[]FieldError{{"", CodeInvalidValue, ""}}}, // message checked loosely below
		{"no $schema means 2020-12", `{"prefixItems":[{"type":"string"}]}`, `[1]`, []FieldError{{"[0]", CodeInvalidType, "must be string"}}},
		{"boolean schema true", `true`, `{"x":1}`, nil},
		{"boolean schema false", `false`, `{}`, []FieldError{{"", CodeInvalidValue, "boolean schema is false"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustCompile(t, c.schema)
			got := s.Validate(mustDecode(t, c.value))
			if c.name == "2020-12 unevaluatedProperties" { // library wording; only path and code matter
				if len(got) != 1 || got[0].Code != CodeInvalidValue || got[0].Message == "" {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestValidateAcceptsPlainGoValues(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{"n":{"type":"integer","maximum":3}}}`)
	if errs := s.Validate(map[string]any{"n": float64(2)}); errs != nil {
		t.Fatalf("float64: %+v", errs)
	}
	if errs := s.Validate(map[string]any{"n": float64(4)}); len(errs) != 1 || errs[0].Path != "n" {
		t.Fatalf("float64 over: %+v", errs)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ name, schema string }{
		{"not json", `{`},
		{"trailing data", `{} {}`},
		{"not an object", `[1]`},
		{"string", `"x"`},
		{"bad type keyword", `{"type":"strnig"}`},
		{"bad minLength", `{"minLength":-1}`},
		{"bad properties", `{"properties":[]}`},
		{"bad regex", `{"pattern":"("}`},
		{"dangling ref", `{"$ref":"#/$defs/missing"}`},
		{"file ref refused", `{"$ref":"file:///etc/passwd"}`},
		{"relative ref refused", `{"$ref":"other.json"}`},
		{"http ref refused", `{"$ref":"https://example.com/schema.json"}`},
		{"unknown draft", `{"$schema":"https://example.com/my-draft"}`},
		{"draft-07 bad items", `{` + draft07 + `"items":3}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Compile([]byte(c.schema)); !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Compile(%s) = %v, want ErrInvalidSchema", c.schema, err)
			}
		})
	}
	big := `{"description":"` + strings.Repeat("x", MaxSchemaBytes) + `"}`
	if _, err := Compile([]byte(big)); !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestUnknownKeywordsAndFormatsAreIgnored(t *testing.T) {
	s := mustCompile(t, `{"type":"object","x-ui":"slider","properties":{"a":{"type":"string","format":"my-format","uiWidget":1}}}`)
	if errs := s.Validate(mustDecode(t, `{"a":"anything"}`)); errs != nil {
		t.Fatalf("errs %+v", errs)
	}
}

func TestApplyDefaults(t *testing.T) {
	cases := []struct {
		name, schema, value, want string
	}{
		{"missing property gets its default", `{"properties":{"a":{"default":1},"b":{"default":"x"}}}`, `{"b":"y"}`, `{"a":1,"b":"y"}`},
		{"null is not missing", `{"properties":{"a":{"default":1}}}`, `{"a":null}`, `{"a":null}`},
		{"nested objects", `{"properties":{"o":{"type":"object","properties":{"x":{"default":true}}}}}`, `{"o":{}}`, `{"o":{"x":true}}`},
		{"default object gets nested defaults", `{"properties":{"o":{"default":{},"properties":{"x":{"default":2}}}}}`, `{}`, `{"o":{"x":2}}`},
		{"no default, no key", `{"properties":{"o":{"properties":{"x":{"default":2}}}}}`, `{}`, `{}`},
		{"through $ref", `{"properties":{"r":{"$ref":"#/$defs/d"}},"$defs":{"d":{"properties":{"k":{"default":"v"}}}}}`, `{"r":{}}`, `{"r":{"k":"v"}}`},
		{"through allOf", `{"allOf":[{"properties":{"a":{"default":1}}},{"properties":{"b":{"default":2}}}]}`, `{}`, `{"a":1,"b":2}`},
		{"not through anyOf", `{"anyOf":[{"properties":{"a":{"default":1}}}]}`, `{}`, `{}`},
		{"not through oneOf", `{"oneOf":[{"properties":{"a":{"default":1}}}]}`, `{}`, `{}`},
		{"array items", `{"properties":{"l":{"items":{"properties":{"on":{"default":false}}}}}}`, `{"l":[{},{"on":true}]}`, `{"l":[{"on":false},{"on":true}]}`},
		{"tuple items appended in order", `{"prefixItems":[{"default":"a"},{"default":"b"},{"type":"string"},{"default":"d"}]}`, `["x"]`, `["x","b"]`},
		{"draft-07 definitions", `{` + draft07 + `"properties":{"n":{"$ref":"#/definitions/n"}},"definitions":{"n":{"default":5}}}`, `{}`, `{"n":5}`},
		{"defaults are copies", `{"properties":{"a":{"default":{"k":[1]}},"b":{"default":{"k":[1]}}}}`, `{}`, `{"a":{"k":[1]},"b":{"k":[1]}}`},
		{"recursive schema terminates", `{"$defs":{"n":{"properties":{"c":{"$ref":"#/$defs/n"},"v":{"default":0}}}},"$ref":"#/$defs/n"}`, `{"c":{"c":{}}}`, `{"c":{"c":{"v":0},"v":0},"v":0}`},
		{"self allOf terminates", `{"$id":"https://x.example/s","allOf":[{"$ref":"#"}],"properties":{"a":{"default":1}}}`, `{}`, `{"a":1}`},
		{"scalar untouched", `{"default":3}`, `"x"`, `"x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustCompile(t, c.schema)
			got := ApplyDefaults(s, mustDecode(t, c.value))
			raw, _ := json.Marshal(got)
			if !jsonEqual(t, string(raw), c.want) {
				t.Fatalf("got %s want %s", raw, c.want)
			}
		})
	}
	// Mutating one applied default does not change the schema's default for the next value.
	s := mustCompile(t, `{"properties":{"a":{"default":{"k":1}}}}`)
	first := ApplyDefaults(s, map[string]any{}).(map[string]any)
	first["a"].(map[string]any)["k"] = 2
	second, _ := json.Marshal(ApplyDefaults(s, map[string]any{}))
	if string(second) != `{"a":{"k":1}}` {
		t.Fatalf("default shared between calls: %s", second)
	}
}

func TestJoinPath(t *testing.T) {
	for _, c := range []struct{ prefix, path, want string }{
		{"config", "", "config"}, {"config", "a", "config.a"}, {"config", "[0].a", "config[0].a"}, {"", "a", "a"},
	} {
		if got := JoinPath(c.prefix, c.path); got != c.want {
			t.Errorf("JoinPath(%q,%q) = %q want %q", c.prefix, c.path, got, c.want)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
