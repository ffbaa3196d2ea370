package afps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Type is the package type, the validation dispatch key.
type Type string

// The four AFPS package types.
const (
	TypeAgent    Type = "agent"
	TypeSkill    Type = "skill"
	TypeTool     Type = "tool"
	TypeProvider Type = "provider"
)

// Types lists the package types in their canonical order.
var Types = []Type{TypeAgent, TypeSkill, TypeTool, TypeProvider}

// Valid reports whether t is one of the four types.
func (t Type) Valid() bool { return slices.Contains(Types, t) }

// SchemaURL is the `$schema` the platform stamps on manifests it creates.
func (t Type) SchemaURL() string {
	return "https://afps.appstrate.dev/packages/schema/v1/" + string(t) + ".schema.json"
}

// ManifestFile is the manifest's name at the package root.
const ManifestFile = "manifest.json"

// Manifest is a parsed manifest.json. The typed fields are filled on a best-effort basis (a member of the
// wrong JSON type is left zero; Validate reports it). Raw keeps the exact original bytes, so a manifest is never
// re-encoded on a round trip: unknown members, `x-` extensions and the loose objects survive byte for byte.
type Manifest struct {
	Raw json.RawMessage `json:"-"`

	SchemaURI     string       `json:"$schema,omitempty"`
	Name          string       `json:"name"`
	Version       string       `json:"version"`
	Type          Type         `json:"type"`
	SchemaVersion string       `json:"schemaVersion,omitempty"`
	DisplayName   string       `json:"displayName,omitempty"`
	Description   string       `json:"description,omitempty"`
	License       string       `json:"license,omitempty"`
	Repository    string       `json:"repository,omitempty"`
	Keywords      []string     `json:"keywords,omitempty"`
	Author        string       `json:"author,omitempty"`
	Dependencies  Dependencies `json:"dependencies"`

	// Agent.
	ProvidersConfiguration map[string]ProviderConfiguration `json:"providersConfiguration,omitempty"`
	Input                  *SchemaWrapper                   `json:"input,omitempty"`
	Output                 *SchemaWrapper                   `json:"output,omitempty"`
	Config                 *SchemaWrapper                   `json:"config,omitempty"`
	Timeout                *float64                         `json:"timeout,omitempty"`

	// Tool.
	Entrypoint string    `json:"entrypoint,omitempty"`
	Tool       *ToolSpec `json:"tool,omitempty"`

	// Provider (PACKAGES.md §4.1).
	IconURL    string              `json:"iconUrl,omitempty"`
	DocsURL    string              `json:"docsUrl,omitempty"`
	Categories []string            `json:"categories,omitempty"`
	SetupGuide *SetupGuide         `json:"setupGuide,omitempty"`
	Definition *ProviderDefinition `json:"definition,omitempty"`
}

// Dependencies is the `dependencies` object: package id → semver range, per kind. Unknown members of the
// object are kept in Raw of the manifest.
type Dependencies struct {
	Skills    map[string]string `json:"skills,omitempty"`
	Tools     map[string]string `json:"tools,omitempty"`
	Providers map[string]string `json:"providers,omitempty"`
}

// Dependency is one declared dependency.
type Dependency struct {
	Type  Type   // skill, tool or provider
	Name  string // @scope/name
	Range string
}

// All returns every dependency, skills then tools then providers, each sorted by name.
func (d Dependencies) All() []Dependency {
	var out []Dependency
	for _, kind := range []struct {
		t Type
		m map[string]string
	}{{TypeSkill, d.Skills}, {TypeTool, d.Tools}, {TypeProvider, d.Providers}} {
		names := make([]string, 0, len(kind.m))
		for n := range kind.m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			out = append(out, Dependency{Type: kind.t, Name: n, Range: kind.m[n]})
		}
	}
	return out
}

// ProviderConfiguration is an agent's per-provider settings; only scopes is interoperable.
type ProviderConfiguration struct {
	Scopes []string `json:"scopes,omitempty"`
}

// SchemaWrapper is the agent `input`/`output`/`config` wrapper.
type SchemaWrapper struct {
	Schema          json.RawMessage           `json:"schema"`
	FileConstraints map[string]FileConstraint `json:"fileConstraints,omitempty"`
	UIHints         map[string]UIHint         `json:"uiHints,omitempty"`
	PropertyOrder   []string                  `json:"propertyOrder,omitempty"`
}

// FileConstraint limits one file property.
type FileConstraint struct {
	Accept  string   `json:"accept,omitempty"`
	MaxSize *float64 `json:"maxSize,omitempty"`
}

// UIHint is a form hint for one property.
type UIHint struct {
	Placeholder string `json:"placeholder,omitempty"`
}

// ToolSpec is the tool package's `tool` block.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
}

// SetupGuide helps a user create OAuth/API credentials.
type SetupGuide struct {
	CallbackURLHint string      `json:"callbackUrlHint,omitempty"`
	Steps           []SetupStep `json:"steps,omitempty"`
}

// SetupStep is one setup instruction.
type SetupStep struct {
	Label string `json:"label"`
	URL   string `json:"url,omitempty"`
}

// ParseManifest decodes manifest.json. It fails only when the bytes are empty (MISSING_MANIFEST), not JSON, or
// not a JSON object (INVALID_MANIFEST); schema problems are Validate's job.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ValidationError{Issues: []Issue{{Code: CodeMissingManifest, Message: "manifest.json is empty"}}}
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, &ValidationError{Issues: []Issue{{Code: CodeInvalidManifest, Message: "manifest.json is not valid JSON: " + err.Error()}}}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &ValidationError{Issues: []Issue{{Code: CodeInvalidManifest, Message: "Expected object, received " + jsType(v)}}}
	}
	m := &Manifest{}
	// encoding/json skips members of the wrong type and keeps going; Validate reports them.
	_ = json.Unmarshal(data, m)
	m.Raw = append(json.RawMessage(nil), data...)
	return m, nil
}

// Object returns the manifest as a generic JSON object (numbers as json.Number).
func (m *Manifest) Object() (map[string]any, error) {
	v, err := decodeJSON(m.Raw)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("manifest is not a JSON object")
	}
	return obj, nil
}

// ID is the package id (the manifest name).
func (m *Manifest) ID() string { return m.Name }

// Identity is the bundle identity "@scope/name@version".
func (m *Manifest) Identity() string { return m.Name + "@" + m.Version }

// EffectiveSchemaVersion is schemaVersion, "1.0" when absent.
func (m *Manifest) EffectiveSchemaVersion() string {
	if m.SchemaVersion == "" {
		return "1.0"
	}
	return m.SchemaVersion
}

// TimeoutSeconds is the agent timeout, 300 when absent.
func (m *Manifest) TimeoutSeconds() float64 {
	if m.Timeout == nil {
		return 300
	}
	return *m.Timeout
}

// UnmarshalJSON accepts a map of any shape: members of the wrong type are skipped, never an error.
func (p *ProviderConfiguration) UnmarshalJSON(data []byte) error {
	var raw struct {
		Scopes json.RawMessage `json:"scopes"`
	}
	if json.Unmarshal(data, &raw) != nil {
		return nil
	}
	_ = json.Unmarshal(raw.Scopes, &p.Scopes)
	return nil
}
