package runs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/config"
)

const inlineBase = `"schemaVersion":"1.1","displayName":"Ad hoc"`

// inlineManifest is a valid agent manifest with extra members (JSON object members without braces).
func inlineManifest(extra string) json.RawMessage {
	if extra != "" {
		extra = "," + extra
	}
	return json.RawMessage(`{` + inlineBase + extra + `}`)
}

func deps(kind string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"@acme/%s-%d":"^1.0.0"`, kind, i)
	}
	return `"dependencies":{"` + kind + `s":{` + strings.Join(parts, ",") + `}}`
}

func uris(provider string, list ...string) string {
	b, _ := json.Marshal(list)
	return `"providersConfiguration":{"` + provider + `":{"authorizedUris":` + string(b) + `}}`
}

func TestInlineChecks(t *testing.T) {
	lim := config.DefaultInlineRunLimits()
	lim.MaxManifestBytes, lim.MaxPromptBytes, lim.MaxSkills, lim.MaxTools, lim.MaxAuthorizedURIs = 512, 64, 2, 1, 3
	many := make([]string, 4)
	for i := range many {
		many[i] = fmt.Sprintf("https://api%d.example.com/**", i)
	}
	cases := []struct {
		name     string
		manifest json.RawMessage
		prompt   string
		fields   []string // the issues' fields, in order; none = valid
		codes    []string
	}{
		{"minimal", inlineManifest(""), "Do it.", nil, nil},
		{"at the caps", inlineManifest(deps("skill", 2) + `,` + uris("@acme/api", many[:3]...)), "Do it.", nil, nil},
		{"missing manifest", nil, "Do it.", []string{"manifest"}, []string{CodeRequired}},
		{"array manifest", json.RawMessage(`[1]`), "", []string{"manifest", "prompt"}, []string{CodeInvalidManifest, CodeRequired}},
		{"manifest too large", inlineManifest(`"description":"` + strings.Repeat("x", 600) + `"`), "Do it.", []string{"manifest"}, []string{CodeOutOfRange}},
		{"prompt too large", inlineManifest(""), strings.Repeat("p", 65), []string{"prompt"}, []string{CodeOutOfRange}},
		{"blank prompt", inlineManifest(""), " \n", []string{"prompt"}, []string{CodeRequired}},
		{"skill type", json.RawMessage(`{"type":"skill",` + inlineBase + `}`), "Do it.", []string{"manifest.type"}, []string{CodeInvalidManifest}},
		{"no displayName", json.RawMessage(`{"schemaVersion":"1.1"}`), "Do it.", []string{"manifest.displayName"}, []string{CodeInvalidManifest}},
		{"bad version", inlineManifest(`"version":"one"`), "Do it.", []string{"manifest.version"}, []string{CodeInvalidManifest}},
		{"bare input schema", inlineManifest(`"input":{"type":"object"}`), "Do it.", []string{"manifest.input.schema"}, []string{CodeInvalidManifest}},
		{"too many skills", inlineManifest(deps("skill", 3)), "Do it.", []string{"manifest.dependencies.skills"}, []string{CodeOutOfRange}},
		{"too many tools", inlineManifest(deps("tool", 2)), "Do it.", []string{"manifest.dependencies.tools"}, []string{CodeOutOfRange}},
		{"too many uris", inlineManifest(uris("@acme/api", many...)), "Do it.", []string{"manifest.providersConfiguration"}, []string{CodeOutOfRange}},
		{"wildcard host", inlineManifest(uris("@acme/api", "https://*.example.com/**")), "Do it.",
			[]string{"manifest.providersConfiguration.@acme/api.authorizedUris[0]"}, []string{CodeInvalidValue}},
		{"bare glob", inlineManifest(uris("@acme/api", "*")), "Do it.",
			[]string{"manifest.providersConfiguration.@acme/api.authorizedUris[0]"}, []string{CodeInvalidValue}},
		{"not a pattern", inlineManifest(uris("@acme/api", "ftp://example.com/x")), "Do it.",
			[]string{"manifest.providersConfiguration.@acme/api.authorizedUris[0]"}, []string{CodeInvalidFormat}},
		{"uris not strings", inlineManifest(`"providersConfiguration":{"@acme/api":{"authorizedUris":[1]}}`), "Do it.",
			[]string{"manifest.providersConfiguration.@acme/api.authorizedUris"}, []string{CodeInvalidType}},
		{"allow all", inlineManifest(`"providersConfiguration":{"@acme/api":{"allowAllUris":true}}`), "Do it.",
			[]string{"manifest.providersConfiguration.@acme/api.allowAllUris"}, []string{CodeInvalidValue}},
		{"every problem at once", inlineManifest(deps("tool", 2) + `,"version":"x"`), strings.Repeat("p", 65),
			[]string{"manifest.version", "manifest.dependencies.tools", "prompt"}, []string{CodeInvalidManifest, CodeOutOfRange, CodeOutOfRange}},
	}
	s := &Service{Inline: lim}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: c.manifest, Prompt: c.prompt})
			if c.fields == nil {
				if err != nil {
					t.Fatalf("valid request refused: %v", err)
				}
				return
			}
			var ie *InlineError
			if !errors.As(err, &ie) {
				t.Fatalf("want an InlineError, got %v", err)
			}
			var fields, codes []string
			for _, is := range ie.Issues {
				fields, codes = append(fields, is.Field), append(codes, is.Code)
			}
			if strings.Join(fields, " ") != strings.Join(c.fields, " ") || strings.Join(codes, " ") != strings.Join(c.codes, " ") {
				t.Fatalf("issues %+v, want fields %v codes %v", ie.Issues, c.fields, c.codes)
			}
		})
	}
}

func TestInlineWildcardsAllowed(t *testing.T) {
	lim := config.DefaultInlineRunLimits()
	lim.WildcardURIAllowed = true
	s := &Service{Inline: lim}
	m := inlineManifest(`"providersConfiguration":{"@acme/api":{"allowAllUris":true,"authorizedUris":["https://*.example.com/**"]}}`)
	if err := s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: m, Prompt: "Go."}); err != nil {
		t.Fatal(err)
	}
}

func TestInlineInputAndConfig(t *testing.T) {
	s := &Service{}
	m := inlineManifest(`"input":{"schema":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}},` +
		`"config":{"schema":{"type":"object","properties":{"n":{"type":"integer","default":3}}}}`)
	err := s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: m, Prompt: "Go.", Input: json.RawMessage(`{}`)})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Code != "invalid_input" || ve.Fields[0].Path != "input.q" {
		t.Fatalf("missing input: %v", err)
	}
	err = s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: m, Prompt: "Go.", Input: json.RawMessage(`{"q":"x"}`),
		Config: json.RawMessage(`{"n":"three"}`)})
	if !errors.As(err, &ve) || ve.Code != "invalid_config" || ve.Fields[0].Path != "config.n" {
		t.Fatalf("bad config: %v", err)
	}
	if err := s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: m, Prompt: "Go.", Input: json.RawMessage(`{"q":"x"}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestInlineStamp(t *testing.T) {
	s := &Service{}
	a, err := s.inlineAgent(InlineParams{Manifest: json.RawMessage(`{"name":"@evil/other",` + inlineBase + `,"description":"a<b"}`), Prompt: "Go."})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(a.manifest, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.id, "@inline/r-") || m["name"] != a.id || m["type"] != "agent" || m["version"] != "0.0.0" ||
		a.versionLabel != "0.0.0" || a.scope != InlineScope || "@inline/"+a.name != a.id {
		t.Fatalf("agent %+v manifest %s", a, a.manifest)
	}
	if !strings.Contains(string(a.manifest), `"a<b"`) {
		t.Fatalf("manifest re-encoded with HTML escapes: %s", a.manifest)
	}
	a, err = s.inlineAgent(InlineParams{Manifest: inlineManifest(`"version":"2.1.0"`), Prompt: "Go."})
	if err != nil || a.versionLabel != "2.1.0" {
		t.Fatalf("given version: %+v %v", a, err)
	}
}

// FuzzValidateInline: any manifest and prompt give nil, an *InlineError or a *ValidationError, never a panic
// or another error (the request is untrusted).
func FuzzValidateInline(f *testing.F) {
	f.Add([]byte(inlineManifest("")), "Go.")
	f.Add([]byte(inlineManifest(deps("skill", 3)+`,`+uris("@a/b", "https://*.x.com/**", "*", "ftp://y"))), "")
	f.Add([]byte(`{"providersConfiguration":{"@a/b":{"authorizedUris":"x","allowAllUris":1}}}`), "p")
	f.Add([]byte(`{"type":"agent","input":{"schema":{"type":"object","properties":{"a":{"$ref":"#"}}}}}`), "p")
	f.Add([]byte(`null`), "")
	s := &Service{}
	f.Fuzz(func(t *testing.T, manifest []byte, prompt string) {
		err := s.ValidateInline(t.Context(), Caller{}, InlineParams{Manifest: manifest, Prompt: prompt})
		var ie *InlineError
		var ve *ValidationError
		if err != nil && !errors.As(err, &ie) && !errors.As(err, &ve) {
			t.Fatalf("unexpected error %T: %v", err, err)
		}
		if ie != nil && len(ie.Issues) == 0 {
			t.Fatal("InlineError without issues")
		}
	})
}
