package providers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
)

const zendeskSchema = `{"type":"object","properties":{"subdomain":{"type":"string","pattern":"^[a-z0-9-]+$"},
	"email":{"type":"string","format":"email"},"api_token":{"type":"string","minLength":8},
	"region":{"type":"string","enum":["us","eu"]},"port":{"type":"integer"},"sandbox":{"type":"boolean"}},
	"required":["subdomain","email","api_token"]}`

func decodeCreds(t testing.TB, s string) map[string]any {
	t.Helper()
	v, err := jsonschema.Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v.(map[string]any)
}

func TestValidateCredentials(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		creds  string
		want   map[string]string
		issues []string // "field code"
	}{
		{name: "all required fields", schema: zendeskSchema,
			creds: `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh"}`,
			want:  map[string]string{"subdomain": "acme", "email": "a@acme.test", "api_token": "abcdefgh"}},
		{name: "numbers and booleans are stored as their JSON text", schema: zendeskSchema,
			creds: `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh","port":8443,"sandbox":true}`,
			want: map[string]string{"subdomain": "acme", "email": "a@acme.test", "api_token": "abcdefgh", "port": "8443",
				"sandbox": "true"}},
		{name: "missing required field", schema: zendeskSchema, creds: `{"subdomain":"acme","email":"a@acme.test"}`,
			issues: []string{"credentials.api_token required"}},
		{name: "blank required field", schema: zendeskSchema, creds: `{"subdomain":"acme","email":"a@acme.test","api_token":"   "}`,
			issues: []string{"credentials.api_token required"}},
		{name: "undeclared field", schema: zendeskSchema,
			creds:  `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh","extra":"x"}`,
			issues: []string{"credentials.extra unknown_field"}},
		{name: "additionalProperties true allows undeclared fields",
			schema: `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":true}`,
			creds:  `{"a":"1","b":"2"}`, want: map[string]string{"a": "1", "b": "2"}},
		{name: "wrong type", schema: zendeskSchema,
			creds:  `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh","port":"x"}`,
			issues: []string{"credentials.port invalid_type"}},
		{name: "nested object refused", schema: zendeskSchema, creds: `{"subdomain":{"a":1}}`,
			issues: []string{"credentials.subdomain invalid_type"}},
		{name: "null refused", schema: ``, creds: `{"a":null}`, issues: []string{"credentials.a invalid_type"}},
		{name: "enum", schema: zendeskSchema,
			creds:  `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh","region":"ap"}`,
			issues: []string{"credentials.region invalid_value"}},
		{name: "pattern", schema: zendeskSchema, creds: `{"subdomain":"evil.com/x","email":"a@acme.test","api_token":"abcdefgh"}`,
			issues: []string{"credentials.subdomain invalid_format"}},
		{name: "minLength", schema: zendeskSchema, creds: `{"subdomain":"acme","email":"a@acme.test","api_token":"short"}`,
			issues: []string{"credentials.api_token out_of_range"}},
		{name: "bad field name", schema: ``, creds: `{"Bad-Name":"x"}`, issues: []string{"credentials.Bad-Name invalid_value"}},
		{name: "no schema accepts scalar maps", schema: ``, creds: `{"clientId":"a","clientSecret":"b"}`,
			want: map[string]string{"clientId": "a", "clientSecret": "b"}},
		{name: "invalid schema falls back to the structural rules",
			schema: `{"type":"object","properties":{"a":{"type":"nope"}},"required":["a"]}`, creds: `{}`,
			issues: []string{"credentials.a required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateCredentials(json.RawMessage(tt.schema), decodeCreds(t, tt.creds), "credentials")
			if len(tt.issues) > 0 {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var have []string
				for _, is := range ve.Issues {
					have = append(have, is.Field+" "+is.Code)
				}
				for _, want := range tt.issues {
					if !strings.Contains(strings.Join(have, "|"), want) {
						t.Fatalf("issues %v lack %q", have, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestValidateCredentialsLimits(t *testing.T) {
	many := map[string]any{}
	for i := 0; i <= MaxCredentialFields; i++ {
		many["f"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+strings.Repeat("y", i/26)] = "v"
	}
	if _, err := ValidateCredentials(nil, many, "credentials"); err == nil {
		t.Fatal("too many fields accepted")
	}
	big := map[string]any{"a": strings.Repeat("x", MaxCredentialValueBytes+1)}
	if _, err := ValidateCredentials(nil, big, "credentials"); err == nil {
		t.Fatal("oversized value accepted")
	}
	if _, err := ValidateCredentials(nil, map[string]any{"a": "x\x00y"}, "credentials"); err == nil {
		t.Fatal("NUL accepted")
	}
}

// FuzzValidateCredentials feeds arbitrary schemas and credential documents: the validator never panics, and
// whatever it accepts respects its rules (declared keys, scalar values, bounded sizes, required present).
func FuzzValidateCredentials(f *testing.F) {
	f.Add(zendeskSchema, `{"subdomain":"acme","email":"a@acme.test","api_token":"abcdefgh"}`)
	f.Add(`{"type":"object","properties":{"api_key":{"type":"string"}},"required":["api_key"]}`, `{"api_key":"k"}`)
	f.Add(``, `{"a":1.5e300,"b":false}`)
	f.Add(`{"required":[1,"a",null]}`, `{"a":""}`)
	f.Add(`{"properties":{"a":{"$ref":"#"}}}`, `{"a":"x"}`)
	f.Add(`not json`, `{"x":[1]}`)
	f.Fuzz(func(t *testing.T, schema, doc string) {
		v, err := jsonschema.Decode([]byte(doc))
		if err != nil {
			return
		}
		creds, ok := v.(map[string]any)
		if !ok {
			return
		}
		out, err := ValidateCredentials(json.RawMessage(schema), creds, "credentials")
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Issues) == 0 {
				t.Fatalf("error %v is not a ValidationError with issues", err)
			}
			return
		}
		if len(out) > MaxCredentialFields {
			t.Fatalf("%d fields accepted", len(out))
		}
		shape := parseSchemaShape(json.RawMessage(schema))
		for k, val := range out {
			if !credentialKeyRE.MatchString(k) || len(val) > MaxCredentialValueBytes {
				t.Fatalf("accepted %q=%q", k, val)
			}
			if len(shape.properties) > 0 && !shape.additional {
				if _, ok := shape.properties[k]; !ok {
					t.Fatalf("accepted undeclared %q", k)
				}
			}
		}
		for _, r := range shape.required {
			if strings.TrimSpace(out[r]) == "" {
				if s, isStr := creds[r].(string); !isStr || strings.TrimSpace(s) == "" {
					t.Fatalf("required %q missing but accepted", r)
				}
			}
		}
	})
}
