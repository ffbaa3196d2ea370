package credentials

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// ProviderRules is what injection needs to know about one provider: its id and its manifest `definition`
// (afps.ProviderDefinition, fields of PACKAGES.md §4.1), plus the credentialQueryParams extension.
type ProviderRules struct {
	ID         string
	Definition afps.ProviderDefinition
	// QueryParams is the `definition.credentialQueryParams` extension: query parameter name → template of
	// credential fields (e.g. {"key": "{{consumer_key}}", "token": "{{access_token}}"} for a Trello-style API).
	// A parameter whose template references a missing field is not added; a caller-supplied parameter of the
	// same name wins.
	QueryParams map[string]string
}

// RulesFromManifest decodes a provider manifest (the whole manifest.json, or a bare `definition` object).
func RulesFromManifest(raw json.RawMessage) (ProviderRules, error) {
	m, err := afps.ParseManifest(raw)
	if err != nil {
		return ProviderRules{}, fmt.Errorf("credentials: provider manifest: %w", err)
	}
	var ext struct {
		Definition *struct {
			QueryParams map[string]string `json:"credentialQueryParams"`
		} `json:"definition"`
		QueryParams map[string]string `json:"credentialQueryParams"`
	}
	_ = json.Unmarshal(raw, &ext)
	if m.Definition == nil {
		// A bare definition object.
		var def afps.ProviderDefinition
		if err := json.Unmarshal(raw, &def); err != nil || def.AuthMode == "" {
			return ProviderRules{}, fmt.Errorf("credentials: provider manifest has no definition")
		}
		return ProviderRules{Definition: def, QueryParams: ext.QueryParams}, nil
	}
	r := RulesFromDefinition(m.ID(), m.Definition)
	if ext.Definition != nil {
		r.QueryParams = ext.Definition.QueryParams
	}
	return r, nil
}

// RulesFromDefinition wraps a parsed definition.
func RulesFromDefinition(id string, def *afps.ProviderDefinition) ProviderRules {
	r := ProviderRules{ID: id}
	if def != nil {
		r.Definition = *def
	}
	return r
}

// FieldName is the credential field whose value is injected (credentials.fieldName, else api_key in api_key
// mode, else access_token).
func (p ProviderRules) FieldName() string { return p.Definition.CredentialFieldName() }

// Header is the header that carries the credential and its prefix. A declared credentialHeaderName wins; an
// oauth2 provider without one gets `Authorization: Bearer`, a basic provider `Authorization: Basic`; other
// modes inject nothing automatically (name "").
func (p ProviderRules) Header() (name, prefix string) {
	d := p.Definition
	switch {
	case d.CredentialHeaderName != "":
		return d.CredentialHeaderName, strings.TrimSpace(d.CredentialHeaderPrefix)
	case d.AuthMode == afps.AuthOAuth2:
		return "Authorization", "Bearer"
	case d.AuthMode == afps.AuthBasic:
		return "Authorization", "Basic"
	}
	return "", ""
}

// HeaderValue joins a prefix and a credential: "Bearer tok", or the credential alone without prefix. A
// prefix ending in '=' or ':' is joined without a space (Freshsales' "Token token=<key>"; upstream inserts a
// space there).
func HeaderValue(prefix, value string) string {
	prefix = strings.TrimSpace(prefix)
	switch {
	case prefix == "":
		return value
	case strings.HasSuffix(prefix, "=") || strings.HasSuffix(prefix, ":"):
		return prefix + value
	}
	return prefix + " " + value
}
