package afps

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	validAgent = `{"name":"@acme/intake","version":"1.2.0","type":"agent","schemaVersion":"1.1","displayName":"Intake",
		"author":"Acme","x-extra":{"kept":true},
		"dependencies":{"skills":{"@acme/tone":"^1.0.0"},"tools":{"@acme/fetch":"~1.2"},"providers":{"@acme/gmail":"*"}},
		"providersConfiguration":{"@acme/gmail":{"scopes":["gmail.readonly"],"x-note":1}},
		"input":{"schema":{"type":"object","properties":{"file":{"type":"string","format":"uri","contentMediaType":"application/pdf"}},"required":["file"]},
			"fileConstraints":{"file":{"accept":".pdf","maxSize":1048576}},"uiHints":{"file":{"placeholder":"Upload"}},"propertyOrder":["file"]},
		"output":{"schema":{"type":"object","properties":{"summary":{"type":"string"}}}},
		"config":{"schema":{"type":"object","properties":{}}},"timeout":120}`
	validSkill    = `{"name":"@acme/tone","version":"1.0.0","type":"skill"}`
	validTool     = `{"name":"@acme/fetch","version":"1.2.3","type":"tool","entrypoint":"tool.ts","tool":{"name":"fetch_json","description":"Fetch JSON","inputSchema":{"type":"object"}}}`
	validProvider = `{"name":"@acme/gmail","version":"1.0.0","type":"provider","displayName":"Gmail","setupGuide":{"callbackUrlHint":"{{callbackUrl}}","steps":[{"label":"Create an app","url":"https://example.com"}]},
		"definition":{"authMode":"oauth2","oauth2":{"authorizationUrl":"https://a","tokenUrl":"https://t","pkceEnabled":false,"tokenAuthMethod":"client_secret_basic"},
		"credentialHeaderName":"Authorization","credentialHeaderPrefix":"Bearer","authorizedUris":["https://gmail.googleapis.com/**"],
		"availableScopes":[{"value":"gmail.readonly","label":"Read"},"gmail.send"],"uploadProtocols":["google-resumable"],"x-vendor":{}}}`
)

// patch applies top-level (dotted) member edits to a JSON object; a nil value deletes the member.
func patch(t *testing.T, base string, edits map[string]any) []byte {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(base), &obj); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		keys := strings.Split(path, "|")
		m := obj
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		last := keys[len(keys)-1]
		if v == nil {
			delete(m, last)
		} else {
			m[last] = v
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func issuePaths(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, is := range ve.Issues {
		out = append(out, is.Path)
	}
	return out
}

func TestValidateManifest(t *testing.T) {
	tests := []struct {
		name   string
		base   string
		edits  map[string]any // keys use "|" to address nested members
		strict bool
		want   []string // issue paths, in order; nil = valid
	}{
		{"agent valid", validAgent, nil, false, nil},
		{"skill valid", validSkill, nil, false, nil},
		{"tool valid", validTool, nil, false, nil},
		{"provider valid", validProvider, nil, false, nil},
		{"agent strict valid", validAgent, nil, true, nil},

		{"name required", validSkill, map[string]any{"name": nil}, false, []string{"name"}},
		{"name must be scoped", validSkill, map[string]any{"name": "tone"}, false, []string{"name"}},
		{"name no trailing hyphen", validSkill, map[string]any{"name": "@acme/tone-"}, false, []string{"name"}},
		{"name no uppercase", validSkill, map[string]any{"name": "@Acme/tone"}, false, []string{"name"}},
		{"name wrong type", validSkill, map[string]any{"name": 42}, false, []string{"name"}},
		{"version required", validSkill, map[string]any{"version": nil}, false, []string{"version"}},
		{"version semver", validSkill, map[string]any{"version": "1.0"}, false, []string{"version"}},
		{"type required", validSkill, map[string]any{"type": nil}, false, []string{"type"}},
		{"type enum", validSkill, map[string]any{"type": "workflow"}, false, []string{"type"}},
		{"keywords strings", validSkill, map[string]any{"keywords": []any{"a", 2, "c", true}}, false, []string{"keywords[1]", "keywords[3]"}},
		{"schemaVersion format", validSkill, map[string]any{"schemaVersion": "1"}, false, []string{"schemaVersion"}},
		{"schemaVersion major 1 only", validSkill, map[string]any{"schemaVersion": "2.0"}, false, []string{"schemaVersion"}},
		{"schemaVersion optional outside agents", validTool, map[string]any{"schemaVersion": nil}, false, nil},
		{"unknown and x- members kept, not errors", validSkill, map[string]any{"x-foo": 1, "whatever": []any{}}, false, nil},
		{"multiple errors all reported", validSkill, map[string]any{"name": "bad", "version": "x", "description": 3}, false, []string{"name", "version", "description"}},

		{"dependency key must be scoped", validSkill, map[string]any{"dependencies|providers|gmail": "^1.0.0"}, false, []string{"dependencies.providers.gmail"}},
		{"dependency range must be valid", validSkill, map[string]any{"dependencies|providers|@acme/gmail": "^^1"}, false, []string{"dependencies.providers.@acme/gmail"}},
		{"dependency value must be a string", validSkill, map[string]any{"dependencies|tools|@acme/x": 1}, false, []string{"dependencies.tools.@acme/x"}},
		{"dependency kind must be an object", validSkill, map[string]any{"dependencies|skills": []any{}}, false, []string{"dependencies.skills"}},
		{"self dependency", validSkill, map[string]any{"dependencies|skills|@acme/tone": "*"}, false, []string{"dependencies.skills.@acme/tone"}},
		{"dependencies loose", validSkill, map[string]any{"dependencies|x-other": 1}, false, nil},
		{"empty range is any", validSkill, map[string]any{"dependencies|skills|@acme/other": ""}, false, nil},

		{"agent displayName required", validAgent, map[string]any{"displayName": nil}, false, []string{"displayName"}},
		{"agent displayName non-empty", validAgent, map[string]any{"displayName": ""}, false, []string{"displayName"}},
		{"agent schemaVersion required", validAgent, map[string]any{"schemaVersion": nil}, false, []string{"schemaVersion"}},
		{"agent author optional in draft mode", validAgent, map[string]any{"author": nil}, false, nil},
		{"agent author required in strict mode", validAgent, map[string]any{"author": nil}, true, []string{"author"}},
		{"agent author non-empty in strict mode", validAgent, map[string]any{"author": ""}, true, []string{"author"}},
		{"agent timeout positive", validAgent, map[string]any{"timeout": 0}, false, []string{"timeout"}},
		{"agent timeout number", validAgent, map[string]any{"timeout": "60"}, false, []string{"timeout"}},
		{"agent bare schema is invalid", validAgent, map[string]any{"input": map[string]any{"type": "object", "properties": map[string]any{}}}, false, []string{"input.schema"}},
		{"agent schema must be object type", validAgent, map[string]any{"output|schema": map[string]any{"type": "string", "properties": map[string]any{}}}, false, []string{"output.schema.type"}},
		{"agent schema needs properties", validAgent, map[string]any{"config|schema": map[string]any{"type": "object"}}, false, []string{"config.schema.properties"}},
		{"agent schema must be a valid JSON Schema", validAgent, map[string]any{"input|schema|properties|file": map[string]any{"type": "strin", "minLength": -1}}, false, []string{"input.schema.properties.file.type", "input.schema.properties.file.minLength"}},
		{"agent schema nested items", validAgent, map[string]any{"output|schema|properties|list": map[string]any{"type": "array", "items": []any{map[string]any{}}}}, false, []string{"output.schema.properties.list.items"}},
		{"agent schema required unique strings", validAgent, map[string]any{"output|schema|required": []any{"a", "a", 3}}, false, []string{"output.schema.required[1]", "output.schema.required[2]"}},
		{"agent fileConstraints maxSize positive", validAgent, map[string]any{"input|fileConstraints|file|maxSize": -5}, false, []string{"input.fileConstraints.file.maxSize"}},
		{"agent uiHints placeholder string", validAgent, map[string]any{"input|uiHints|file|placeholder": 5}, false, []string{"input.uiHints.file.placeholder"}},
		{"agent propertyOrder strings", validAgent, map[string]any{"input|propertyOrder": []any{"file", 1}}, false, []string{"input.propertyOrder[1]"}},
		{"agent providersConfiguration scopes", validAgent, map[string]any{"providersConfiguration|@acme/gmail|scopes": "gmail"}, false, []string{"providersConfiguration.@acme/gmail.scopes"}},

		{"tool entrypoint required", validTool, map[string]any{"entrypoint": nil}, false, []string{"entrypoint"}},
		{"tool entrypoint no traversal", validTool, map[string]any{"entrypoint": "../tool.ts"}, false, []string{"entrypoint"}},
		{"tool entrypoint not absolute", validTool, map[string]any{"entrypoint": "/tool.ts"}, false, []string{"entrypoint"}},
		{"tool block required", validTool, map[string]any{"tool": nil}, false, []string{"tool"}},
		{"tool block fields", validTool, map[string]any{"tool": map[string]any{"name": "", "inputSchema": "x"}}, false, []string{"tool.name", "tool.description", "tool.inputSchema"}},

		{"provider definition required", validProvider, map[string]any{"definition": nil}, false, []string{"definition"}},
		{"provider authMode enum", validProvider, map[string]any{"definition|authMode": "saml"}, false, []string{"definition.authMode"}},
		{"provider oauth2 needs urls", validProvider, map[string]any{"definition|oauth2": map[string]any{}}, false, []string{"definition.oauth2.authorizationUrl", "definition.oauth2.tokenUrl"}},
		{"provider oauth2 block required", validProvider, map[string]any{"definition|oauth2": nil}, false, []string{"definition.oauth2"}},
		{"provider oauth2 enums", validProvider, map[string]any{"definition|oauth2|tokenAuthMethod": "private_key_jwt", "definition|oauth2|tokenContentType": "text/plain", "definition|oauth2|pkceEnabled": "yes"}, false, []string{"definition.oauth2.pkceEnabled", "definition.oauth2.tokenAuthMethod", "definition.oauth2.tokenContentType"}},
		{"provider oauth2 params strings", validProvider, map[string]any{"definition|oauth2|authorizationParams": map[string]any{"prompt": 1}}, false, []string{"definition.oauth2.authorizationParams.prompt"}},
		{"provider oauth1 needs urls", validProvider, map[string]any{"definition|authMode": "oauth1", "definition|oauth2": nil, "definition|oauth1": map[string]any{"requestTokenUrl": "https://r"}}, false, []string{"definition.oauth1.accessTokenUrl"}},
		{"provider api_key needs credentials.schema", validProvider, map[string]any{"definition|authMode": "api_key", "definition|oauth2": nil}, false, []string{"definition.credentials"}},
		{"provider credential keys", validProvider, map[string]any{"definition|authMode": "api_key", "definition|credentials": map[string]any{"schema": map[string]any{"type": "object", "properties": map[string]any{"ApiKey": map[string]any{}, "token": map[string]any{}}}, "fieldName": "secret"}}, false, []string{"definition.credentials.schema.properties.ApiKey", "definition.credentials.fieldName"}},
		{"provider fieldName regex", validProvider, map[string]any{"definition|authMode": "custom", "definition|credentials": map[string]any{"schema": map[string]any{}, "fieldName": "Bad-Name"}}, false, []string{"definition.credentials.fieldName"}},
		{"provider transform encoding closed", validProvider, map[string]any{"definition|credentialTransform": map[string]any{"template": "{{a}}", "encoding": "hex"}}, false, []string{"definition.credentialTransform.encoding"}},
		{"provider transform template required", validProvider, map[string]any{"definition|credentialTransform": map[string]any{"template": "", "encoding": "base64"}}, false, []string{"definition.credentialTransform.template"}},
		{"provider uploadProtocols unique enum", validProvider, map[string]any{"definition|uploadProtocols": []any{"tus", "tus", "ftp"}}, false, []string{"definition.uploadProtocols[1]", "definition.uploadProtocols[2]"}},
		{"provider availableScopes shape", validProvider, map[string]any{"definition|availableScopes": []any{"a", map[string]any{"value": "b"}, 3}}, false, []string{"definition.availableScopes[1].label", "definition.availableScopes[2]"}},
		{"provider allowAllUris bool", validProvider, map[string]any{"definition|allowAllUris": "true"}, false, []string{"definition.allowAllUris"}},
		{"provider setupGuide steps", validProvider, map[string]any{"setupGuide|steps": []any{map[string]any{"url": "x"}, "y"}}, false, []string{"setupGuide.steps[0].label", "setupGuide.steps[1]"}},
		{"provider definition loose", validProvider, map[string]any{"definition|adminCredentialSchema": map[string]any{"type": "object"}, "definition|somethingElse": 1}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.base)
			if tt.edits != nil {
				raw = patch(t, tt.base, tt.edits)
			}
			m, err := ParseManifest(raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = Validate(m, ValidateOptions{Strict: tt.strict})
			got := issuePaths(err)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("issue paths = %q, want %q (%v)", got, tt.want, err)
			}
			if err != nil {
				if CodeOf(err) != CodeInvalidManifest {
					t.Fatalf("code = %q", CodeOf(err))
				}
				for _, d := range err.(*ValidationError).Details() {
					if !strings.Contains(d, ": ") {
						t.Fatalf("detail %q is not '<path>: <message>'", d)
					}
				}
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		in   string
		code Code
	}{
		{"", CodeMissingManifest},
		{"   \n", CodeMissingManifest},
		{"{", CodeInvalidManifest},
		{"[1,2]", CodeInvalidManifest},
		{`"str"`, CodeInvalidManifest},
		{`{} {}`, CodeInvalidManifest},
	}
	for _, tt := range tests {
		if _, err := ParseManifest([]byte(tt.in)); CodeOf(err) != tt.code {
			t.Errorf("ParseManifest(%q) code = %q, want %q", tt.in, CodeOf(err), tt.code)
		}
	}
}

func TestManifestTypedFieldsAndRoundTrip(t *testing.T) {
	m, err := ParseManifest([]byte(validAgent))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "@acme/intake" || m.Type != TypeAgent || m.Dependencies.Skills["@acme/tone"] != "^1.0.0" ||
		m.Input == nil || m.Input.FileConstraints["file"].Accept != ".pdf" || m.TimeoutSeconds() != 120 ||
		m.ProvidersConfiguration["@acme/gmail"].Scopes[0] != "gmail.readonly" {
		t.Fatalf("typed fields: %+v", m)
	}
	if string(m.Raw) != validAgent {
		t.Fatal("Raw must keep the original bytes")
	}
	deps := m.Dependencies.All()
	if len(deps) != 3 || deps[0].Type != TypeSkill || deps[2].Name != "@acme/gmail" {
		t.Fatalf("All() = %+v", deps)
	}
	// A member of the wrong type leaves the typed field zero without failing the parse.
	m, err = ParseManifest([]byte(`{"name":"@a/b","version":1,"type":"skill","keywords":"x"}`))
	if err != nil || m.Name != "@a/b" || m.Version != "" {
		t.Fatalf("best-effort decode: %+v %v", m, err)
	}
}

func TestValidatedJSONStripsOnlyStrictObjects(t *testing.T) {
	raw := patch(t, validAgent, map[string]any{
		"input|x-wrapper": 1, "input|fileConstraints|file|x-c": 1, "input|schema|properties|file|x-keep": 1,
	})
	m, _ := ParseManifest(raw)
	out, err := m.ValidatedJSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, kept := range []string{`"x-extra"`, `"x-note"`, `"x-keep"`} {
		if !strings.Contains(s, kept) {
			t.Errorf("%s should be kept: %s", kept, s)
		}
	}
	for _, dropped := range []string{`"x-wrapper"`, `"x-c"`} {
		if strings.Contains(s, dropped) {
			t.Errorf("%s should be stripped: %s", dropped, s)
		}
	}
	m2, _ := ParseManifest([]byte(validTool))
	m2.Raw = patch(t, validTool, map[string]any{"tool|x-t": 1, "x-top": 2})
	out, _ = m2.ValidatedJSON()
	if strings.Contains(string(out), "x-t\"") || !strings.Contains(string(out), "x-top") {
		t.Errorf("tool strip: %s", out)
	}
}

// The 60 system provider definitions of the design docs must validate as provider manifests.
func TestSystemProvidersValidate(t *testing.T) {
	raw, err := os.ReadFile("../../../shared/design/system-providers.json")
	if err != nil {
		t.Skip("design docs not beside the repository")
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		p["type"] = "provider"
		p["schemaVersion"] = "1.1"
		if err := ValidateObject(p, ValidateOptions{Strict: true}); err != nil {
			t.Errorf("%s: %v", p["name"], err)
		}
	}
}

func TestProviderDefaults(t *testing.T) {
	m, _ := ParseManifest([]byte(validProvider))
	d := m.Definition
	if d == nil || d.OAuth2 == nil {
		t.Fatal("definition not decoded")
	}
	if d.OAuth2.PKCE() || d.OAuth2.Separator() != " " || d.OAuth2.RefreshEndpoint() != "https://t" ||
		d.OAuth2.AuthMethod() != "client_secret_basic" || d.OAuth2.ContentType() != "application/x-www-form-urlencoded" ||
		d.CredentialFieldName() != "access_token" || !strings.Contains(string(d.AdminSchema()), "clientSecret") {
		t.Fatalf("defaults: %+v", d.OAuth2)
	}
	if len(d.AvailableScopes) != 2 || d.AvailableScopes[0].Label != "Read" || d.AvailableScopes[1].Value != "gmail.send" {
		t.Fatalf("scopes: %+v", d.AvailableScopes)
	}
}
