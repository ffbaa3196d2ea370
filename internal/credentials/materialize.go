package credentials

import (
	"encoding/base64"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// BasicAuthField is the materialised field holding base64(username:password) for basic-mode providers.
const BasicAuthField = "basic_auth"

// Payload is what a sidecar receives for one provider (`GET /internal/credentials/{provider}`,
// RUNTIME.md §5): the materialised credentials and the injection rules. authMode and credentialQueryParams
// are additions; an upstream sidecar ignores them.
type Payload struct {
	Credentials            map[string]string `json:"credentials"`
	AuthorizedURIs         []string          `json:"authorizedUris"`
	AllowAllURIs           bool              `json:"allowAllUris"`
	CredentialHeaderName   string            `json:"credentialHeaderName,omitempty"`
	CredentialHeaderPrefix string            `json:"credentialHeaderPrefix,omitempty"`
	CredentialFieldName    string            `json:"credentialFieldName"`
	AuthMode               string            `json:"authMode,omitempty"`
	CredentialQueryParams  map[string]string `json:"credentialQueryParams,omitempty"`
}

// Materialize turns a connection's stored (decrypted) credentials into the payload a sidecar uses
// (PACKAGES.md §4.2), with two deliberate differences from upstream:
//
//   - Every stored field is kept (upstream drops all but the injected one when fieldName is declared, so
//     `{{subdomain}}`-style placeholders could not resolve), except an OAuth 2 refresh_token, which never
//     leaves the platform (refresh goes through the platform).
//   - basic mode gets `Authorization: Basic base64(username:password)` (field BasicAuthField) by default.
//
// As upstream: when fieldName is declared and has no value, it takes access_token ?? api_key; an api_key
// provider's credentialTransform (base64 of its rendered template) replaces the injected field when every
// referenced field has a value, and falls through otherwise. The stored map is not modified.
func Materialize(p ProviderRules, stored map[string]string) Payload {
	d := p.Definition
	creds := make(map[string]string, len(stored)+1)
	for k, v := range stored {
		creds[k] = v
	}
	if d.AuthMode == afps.AuthOAuth2 {
		delete(creds, "refresh_token")
	}
	field := p.FieldName()
	if d.Credentials != nil && d.Credentials.FieldName != "" && creds[field] == "" {
		if v := firstNonEmpty(stored["access_token"], stored["api_key"]); v != "" {
			creds[field] = v
		}
	}
	if t := d.CredentialTransform; t != nil && d.AuthMode == afps.AuthAPIKey && t.Encoding == "base64" {
		if rendered, ok := render(t.Template, creds); ok {
			creds[field] = base64.StdEncoding.EncodeToString([]byte(rendered))
		}
	}
	if d.AuthMode == afps.AuthBasic && d.CredentialTransform == nil && creds["username"] != "" && creds["password"] != "" {
		field = BasicAuthField
		creds[field] = base64.StdEncoding.EncodeToString([]byte(creds["username"] + ":" + creds["password"]))
	}
	name, prefix := p.Header()
	var uris []string
	if len(d.AuthorizedURIs) > 0 {
		uris = append(uris, d.AuthorizedURIs...)
	}
	return Payload{
		Credentials:            creds,
		AuthorizedURIs:         uris,
		AllowAllURIs:           d.AllowAllURIs,
		CredentialHeaderName:   name,
		CredentialHeaderPrefix: prefix,
		CredentialFieldName:    field,
		AuthMode:               d.AuthMode,
		CredentialQueryParams:  p.QueryParams,
	}
}

// Rules rebuilds the injection rules from a payload (the sidecar side). Materialising the payload's
// credentials again under these rules changes nothing.
func (pl Payload) Rules(providerID string) ProviderRules {
	return ProviderRules{
		ID: providerID,
		Definition: afps.ProviderDefinition{
			AuthMode:               pl.AuthMode,
			Credentials:            &afps.CredentialsConfig{FieldName: pl.CredentialFieldName},
			CredentialHeaderName:   pl.CredentialHeaderName,
			CredentialHeaderPrefix: pl.CredentialHeaderPrefix,
			AuthorizedURIs:         pl.AuthorizedURIs,
			AllowAllURIs:           pl.AllowAllURIs,
		},
		QueryParams: pl.CredentialQueryParams,
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
