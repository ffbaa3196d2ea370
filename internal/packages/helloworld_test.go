package packages

import (
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
)

func TestHelloWorldIsAValidAgent(t *testing.T) {
	files := map[string][]byte{afps.ManifestFile: []byte(HelloWorldManifest("acme", "2.0.0")), afps.PromptFile: []byte(HelloWorldPrompt)}
	p, err := afps.LoadPackage(files, afps.ValidateOptions{Strict: true})
	if err != nil {
		t.Fatalf("hello-world is not a valid AFPS agent: %v", err)
	}
	m := p.Manifest
	if m.Name != "@acme/hello-world" || m.SchemaVersion != "1.1" || m.Dependencies.Tools[OutputToolID] != "^2.0.0" {
		t.Fatalf("manifest %+v", m)
	}
	for _, w := range []*afps.SchemaWrapper{m.Input, m.Output, m.Config} {
		if w == nil {
			t.Fatal("missing wrapper")
		}
		if _, err := jsonschema.Compile(w.Schema); err != nil {
			t.Fatalf("schema %s: %v", w.Schema, err)
		}
	}
	if !strings.Contains(HelloWorldPrompt, "{{input.name}}") {
		t.Fatal("prompt does not use the input")
	}
	// The default config validates and gets its language.
	s, _ := jsonschema.Compile(m.Config.Schema)
	v := jsonschema.ApplyDefaults(s, map[string]any{})
	if errs := s.Validate(v); errs != nil || v.(map[string]any)["language"] != "English" {
		t.Fatalf("default config %v %v", v, errs)
	}
}
