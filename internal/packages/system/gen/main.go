//go:build ignore

// Command gen writes the system provider packages (internal/packages/system/providers/<name>/) from the
// machine-readable provider facts (shared/design/system-providers.json) and the hand-written notes in
// docs.go: one manifest.json and one PROVIDER.md per provider. The definition of each provider is copied
// verbatim from the facts file (key order kept); everything else (description, setup guide, API cheat
// sheet) comes from docs.go. It also refreshes the copy of the facts file the tests compare against.
//
// Run from the repository root:
//
//	go run internal/packages/system/gen/main.go internal/packages/system/gen/docs.go \
//	    -facts ../shared/design/system-providers.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fact is one entry of system-providers.json; Definition keeps its bytes (and so its key order).
type fact struct {
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	DisplayName string          `json:"displayName"`
	DocsURL     string          `json:"docsUrl"`
	Categories  []string        `json:"categories"`
	IconURL     string          `json:"iconUrl"`
	Definition  json.RawMessage `json:"definition"`
}

type definition struct {
	AuthMode               string `json:"authMode"`
	CredentialHeaderName   string `json:"credentialHeaderName"`
	CredentialHeaderPrefix string `json:"credentialHeaderPrefix"`
	CredentialTransform    *struct {
		Template string `json:"template"`
	} `json:"credentialTransform"`
	Credentials *struct {
		Schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schema"`
		FieldName string `json:"fieldName"`
	} `json:"credentials"`
	AuthorizedURIs  []string `json:"authorizedUris"`
	AllowAllURIs    bool     `json:"allowAllUris"`
	UploadProtocols []string `json:"uploadProtocols"`
	OAuth2          *struct {
		DefaultScopes  []string `json:"defaultScopes"`
		ScopeSeparator string   `json:"scopeSeparator"`
	} `json:"oauth2"`
}

// manifest is the written manifest.json, members in this order.
type manifest struct {
	Schema        string          `json:"$schema"`
	Name          string          `json:"name"`
	Version       string          `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion string          `json:"schemaVersion"`
	DisplayName   string          `json:"displayName"`
	Description   string          `json:"description"`
	Author        string          `json:"author"`
	IconURL       string          `json:"iconUrl"`
	Categories    []string        `json:"categories"`
	DocsURL       string          `json:"docsUrl"`
	SetupGuide    setupGuide      `json:"setupGuide"`
	Definition    json.RawMessage `json:"definition"`
}

type setupGuide struct {
	CallbackURLHint string `json:"callbackUrlHint,omitempty"`
	Steps           []step `json:"steps"`
}

type step struct {
	Label string `json:"label"`
	URL   string `json:"url,omitempty"`
}

func main() {
	factsPath := flag.String("facts", "../shared/design/system-providers.json", "provider facts file")
	out := flag.String("out", "internal/packages/system/providers", "output folder")
	testdata := flag.String("testdata", "internal/packages/testdata/system-providers.json", "copy of the facts for the tests")
	flag.Parse()
	if err := run(*factsPath, *out, *testdata); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(factsPath, out, testdata string) error {
	raw, err := os.ReadFile(factsPath)
	if err != nil {
		return err
	}
	var facts []fact
	if err := json.Unmarshal(raw, &facts); err != nil {
		return fmt.Errorf("%s: %w", factsPath, err)
	}
	seen := map[string]bool{}
	for _, f := range facts {
		short := strings.TrimPrefix(f.Name, "@appstrate/")
		d, ok := docs[short]
		if !ok {
			return fmt.Errorf("%s: no entry in docs.go", f.Name)
		}
		seen[short] = true
		var def definition
		if err := json.Unmarshal(f.Definition, &def); err != nil {
			return fmt.Errorf("%s: definition: %w", f.Name, err)
		}
		m := manifest{
			Schema:        "https://afps.appstrate.dev/packages/schema/v1/provider.schema.json",
			Name:          f.Name,
			Version:       f.Version,
			Type:          "provider",
			SchemaVersion: "1.1",
			DisplayName:   f.DisplayName,
			Description:   d.Description,
			Author:        "Appstrate",
			IconURL:       f.IconURL,
			Categories:    f.Categories,
			DocsURL:       f.DocsURL,
			SetupGuide:    guide(f, def, d),
			Definition:    f.Definition,
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		dir := filepath.Join(out, short)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), buf.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "PROVIDER.md"), []byte(providerMD(f, def, d)), 0o644); err != nil {
			return err
		}
	}
	var extra []string
	for k := range docs {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("docs.go has entries without facts: %v", extra)
	}
	if testdata != "" {
		if err := os.MkdirAll(filepath.Dir(testdata), 0o755); err != nil {
			return err
		}
		return os.WriteFile(testdata, raw, 0o644)
	}
	return nil
}

func oauth(mode string) bool { return mode == "oauth2" || mode == "oauth1" }

// guide builds setupGuide: OAuth providers get the redirect-URI hint and the app-creation steps; the others
// say where the user finds the values of the credential form.
func guide(f fact, def definition, d doc) setupGuide {
	g := setupGuide{}
	if oauth(def.AuthMode) {
		g.CallbackURLHint = "Set the redirect (callback) URL of your " + f.DisplayName + " OAuth app to {{callbackUrl}}"
		kind, secret := "OAuth 2.0", "client ID and client secret"
		if def.AuthMode == "oauth1" {
			kind, secret = "OAuth 1.0a", "API key (consumer key) and secret (consumer secret)"
		}
		g.Steps = []step{
			{Label: d.Console.Label + " and create an " + kind + " app", URL: d.Console.URL},
			{Label: "Add {{callbackUrl}} as an authorized redirect URL"},
		}
		g.Steps = append(g.Steps, d.ExtraSteps...)
		g.Steps = append(g.Steps, step{Label: "Copy the " + secret + " into the provider settings of your Appstrate application"})
		return g
	}
	g.Steps = []step{{Label: d.Console.Label, URL: d.Console.URL}}
	g.Steps = append(g.Steps, d.ExtraSteps...)
	return g
}

// providerMD writes the API cheat sheet the agent reads before calling the provider.
func providerMD(f fact, def definition, d doc) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# %s API\n\n", f.DisplayName)
	p("%s\n\n", d.Description)
	p("- Base URL: `%s`\n", d.Base)
	p("- Reference: %s\n", f.DocsURL)
	switch {
	case def.AllowAllURIs && len(def.AuthorizedURIs) == 0:
		p("- Reachable URLs: any public URL\n")
	default:
		p("- Authorized URLs: %s\n", codeList(def.AuthorizedURIs))
		if def.AllowAllURIs {
			p("  (other public URLs are allowed too)\n")
		}
	}
	p("\n## Authentication\n\n")
	p("%s\n\n", authText(def))
	if def.OAuth2 != nil && len(def.OAuth2.DefaultScopes) > 0 {
		p("Scopes requested by default: %s.\n\n", codeList(def.OAuth2.DefaultScopes))
	}
	p("## Key endpoints\n\n")
	p("| Method | Path | What it does |\n|---|---|---|\n")
	for _, e := range d.Endpoints {
		method, rest, _ := strings.Cut(e, " ")
		path, what, _ := strings.Cut(rest, " — ")
		if p, body, ok := strings.Cut(path, " `"); ok { // GraphQL: the query goes with the description
			path, what = p, what+": `"+body
		}
		p("| %s | `%s` | %s |\n", method, path, what)
	}
	p("\n## Example\n\n")
	p("```json\n%s\n```\n", exampleCall(f.Name, d.Example))
	if len(d.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range d.Notes {
			p("- %s\n", n)
		}
	}
	if len(def.UploadProtocols) > 0 {
		if len(d.Notes) == 0 {
			p("\n## Notes\n\n")
		}
		p("- Large files: use `provider_upload` (protocol %s) rather than one big `provider_call`.\n", codeList(def.UploadProtocols))
	}
	return b.String()
}

func codeList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

// authText explains how the credential reaches the upstream API (RUNTIME.md §3.4 step 5).
func authText(def definition) string {
	var fields []string
	if def.Credentials != nil {
		for k := range def.Credentials.Schema.Properties {
			fields = append(fields, k)
		}
		sort.Strings(fields)
	}
	placeholders := make([]string, len(fields))
	for i, k := range fields {
		placeholders[i] = "{{" + k + "}}"
	}
	never := "Never ask for, print or hard-code the secret: the platform holds it."
	switch {
	case def.CredentialHeaderName != "":
		value := "<credential>"
		if def.CredentialTransform != nil {
			value = "base64(" + def.CredentialTransform.Template + ")"
		} else if def.AuthMode == "oauth2" {
			value = "<access token>"
		}
		prefix := strings.TrimSpace(def.CredentialHeaderPrefix)
		header := def.CredentialHeaderName + ": " + value
		if prefix != "" {
			header = def.CredentialHeaderName + ": " + prefix + " " + value
		}
		s := "The platform injects `" + header + "` into every `provider_call` to an authorized URL; do not set this header yourself. " + never
		if len(fields) > 0 {
			s += " The connection's fields are available as placeholders (" + codeList(placeholders) +
				"), substituted in the target URL and headers (and in the body with `substituteBody: true`)."
		}
		return s
	case def.AuthMode == "oauth1":
		return "No header is injected. Pass the credentials as query parameters: `key={{consumer_key}}` and " +
			"`token={{access_token}}`; the platform substitutes the placeholders. " + never
	default:
		return "No header is injected: reference the connection's fields as placeholders (" + codeList(placeholders) +
			") in the target URL and headers (and in the body with `substituteBody: true`); the platform substitutes them. " + never
	}
}

func exampleCall(id string, e example) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"providerId\": %q,\n  \"target\": %q,\n  \"method\": %q", id, e.Target, e.Method)
	if len(e.Headers) > 0 {
		keys := make([]string, 0, len(e.Headers))
		for k := range e.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q: %q", k, e.Headers[k])
		}
		fmt.Fprintf(&b, ",\n  \"headers\": {%s}", strings.Join(parts, ", "))
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ",\n  \"body\": %q", e.Body)
	}
	if e.SubstituteBody {
		b.WriteString(",\n  \"substituteBody\": true")
	}
	b.WriteString("\n}")
	return b.String()
}
