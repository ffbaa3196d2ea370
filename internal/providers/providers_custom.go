package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// CustomProviderInput is the flat body of POST /api/providers and PUT /api/providers/{scope}/{name}
// (PACKAGES.md §4.3), rebuilt into a nested provider manifest.
type CustomProviderInput struct {
	ID          string
	DisplayName string
	Version     string // default 1.0.0
	Description string
	Author      string
	AuthMode    string
	// ClientID and ClientSecret are the current application's admin credentials (consumer key and secret for
	// OAuth 1.0a); stored encrypted, never in the manifest.
	ClientID     string
	ClientSecret string

	AuthorizationURL    string
	TokenURL            string
	RefreshURL          string
	DefaultScopes       []string
	ScopeSeparator      *string
	PKCEEnabled         *bool
	TokenAuthMethod     string
	TokenContentType    string
	AuthorizationParams map[string]string
	TokenParams         map[string]string
	RequestTokenURL     string
	AccessTokenURL      string

	CredentialSchema       json.RawMessage
	CredentialFieldName    string
	CredentialHeaderName   string
	CredentialHeaderPrefix string
	CredentialTransform    *afps.CredentialTransform
	IconURL                string
	Categories             []string
	DocsURL                string
	SetupGuide             *afps.SetupGuide
	AuthorizedURIs         []string
	AllowAllURIs           *bool
	AvailableScopes        []afps.Scope
	AdminCredentialSchema  json.RawMessage
}

// Default credential schemas of the modes that need one when the body gives none.
var defaultCredentialSchemas = map[string]json.RawMessage{
	afps.AuthAPIKey: json.RawMessage(`{"type":"object","properties":{"api_key":{"type":"string"}},"required":["api_key"]}`),
	afps.AuthBasic:  json.RawMessage(`{"type":"object","properties":{"username":{"type":"string"},"password":{"type":"string"}},"required":["username","password"]}`),
}

type manifestDoc struct {
	Name        string           `json:"name"`
	Version     string           `json:"version"`
	Type        string           `json:"type"`
	DisplayName string           `json:"displayName"`
	Description string           `json:"description,omitempty"`
	Author      string           `json:"author,omitempty"`
	IconURL     string           `json:"iconUrl,omitempty"`
	Categories  []string         `json:"categories,omitempty"`
	DocsURL     string           `json:"docsUrl,omitempty"`
	SetupGuide  *afps.SetupGuide `json:"setupGuide,omitempty"`
	Definition  definitionDoc    `json:"definition"`
}

type definitionDoc struct {
	AuthMode               string                    `json:"authMode"`
	OAuth2                 *afps.OAuth2Config        `json:"oauth2,omitempty"`
	OAuth1                 *afps.OAuth1Config        `json:"oauth1,omitempty"`
	Credentials            *credentialsDoc           `json:"credentials,omitempty"`
	CredentialHeaderName   string                    `json:"credentialHeaderName,omitempty"`
	CredentialHeaderPrefix string                    `json:"credentialHeaderPrefix,omitempty"`
	CredentialTransform    *afps.CredentialTransform `json:"credentialTransform,omitempty"`
	AuthorizedURIs         []string                  `json:"authorizedUris,omitempty"`
	AllowAllURIs           bool                      `json:"allowAllUris,omitempty"`
	AvailableScopes        []afps.Scope              `json:"availableScopes,omitempty"`
	AdminCredentialSchema  json.RawMessage           `json:"adminCredentialSchema,omitempty"`
}

type credentialsDoc struct {
	Schema    json.RawMessage `json:"schema,omitempty"`
	FieldName string          `json:"fieldName,omitempty"`
}

// BuildManifest rebuilds the nested provider manifest of a flat body. Validation is the registry's (the
// manifest validator), whose field paths FlatField maps back to the body's names.
func BuildManifest(in CustomProviderInput) (json.RawMessage, error) {
	if err := checkFlatURLs(in); err != nil {
		return nil, err
	}
	version := in.Version
	if version == "" {
		version = "1.0.0"
	}
	d := definitionDoc{AuthMode: in.AuthMode, CredentialHeaderName: in.CredentialHeaderName,
		CredentialHeaderPrefix: in.CredentialHeaderPrefix, CredentialTransform: in.CredentialTransform,
		AuthorizedURIs: in.AuthorizedURIs, AvailableScopes: in.AvailableScopes, AdminCredentialSchema: in.AdminCredentialSchema}
	if in.AllowAllURIs != nil {
		d.AllowAllURIs = *in.AllowAllURIs
	}
	switch in.AuthMode {
	case afps.AuthOAuth2:
		d.OAuth2 = &afps.OAuth2Config{AuthorizationURL: in.AuthorizationURL, TokenURL: in.TokenURL, RefreshURL: in.RefreshURL,
			DefaultScopes: in.DefaultScopes, ScopeSeparator: in.ScopeSeparator, PKCEEnabled: in.PKCEEnabled,
			TokenAuthMethod: in.TokenAuthMethod, TokenContentType: in.TokenContentType,
			AuthorizationParams: in.AuthorizationParams, TokenParams: in.TokenParams}
	case afps.AuthOAuth1:
		d.OAuth1 = &afps.OAuth1Config{RequestTokenURL: in.RequestTokenURL, AccessTokenURL: in.AccessTokenURL,
			AuthorizationURL: in.AuthorizationURL, AuthorizationParams: in.AuthorizationParams}
	}
	schema := in.CredentialSchema
	if len(bytes.TrimSpace(schema)) == 0 || bytes.Equal(bytes.TrimSpace(schema), []byte("null")) {
		schema = defaultCredentialSchemas[in.AuthMode]
	}
	if len(schema) > 0 || in.CredentialFieldName != "" || in.AuthMode == afps.AuthCustom {
		d.Credentials = &credentialsDoc{Schema: schema, FieldName: in.CredentialFieldName}
	}
	doc := manifestDoc{Name: in.ID, Version: version, Type: string(afps.TypeProvider), DisplayName: in.DisplayName,
		Description: in.Description, Author: in.Author, IconURL: in.IconURL, Categories: in.Categories,
		DocsURL: in.DocsURL, SetupGuide: in.SetupGuide, Definition: d}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return raw, nil
}

// checkFlatURLs requires the endpoints of the OAuth modes as absolute http(s) URLs (the manifest validator
// only checks that they are strings).
func checkFlatURLs(in CustomProviderInput) error {
	type field struct {
		name, value string
		required    bool
	}
	var fields []field
	switch in.AuthMode {
	case afps.AuthOAuth2:
		fields = []field{{"authorizationUrl", in.AuthorizationURL, true}, {"tokenUrl", in.TokenURL, true}, {"refreshUrl", in.RefreshURL, false}}
	case afps.AuthOAuth1:
		fields = []field{{"requestTokenUrl", in.RequestTokenURL, true}, {"accessTokenUrl", in.AccessTokenURL, true},
			{"authorizationUrl", in.AuthorizationURL, true}}
	}
	var issues []FieldIssue
	for _, f := range fields {
		switch {
		case f.value == "" && f.required:
			issues = append(issues, FieldIssue{Field: f.name, Code: "required", Message: "is required for " + in.AuthMode + " providers"})
		case f.value != "" && !absoluteHTTP(f.value):
			issues = append(issues, FieldIssue{Field: f.name, Code: "invalid_format", Message: "must be an absolute http(s) URL"})
		}
	}
	if len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	return nil
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// flatFields maps manifest paths back to the flat body's field names.
var flatFields = map[string]string{
	"manifest.name": "id", "manifest.version": "version", "manifest.displayName": "displayName",
	"manifest.description": "description", "manifest.author": "author", "manifest.iconUrl": "iconUrl",
	"manifest.docsUrl": "docsUrl", "manifest.categories": "categories", "manifest.setupGuide": "setupGuide",
	"manifest.definition.authMode":               "authMode",
	"manifest.definition.oauth2":                 "authorizationUrl",
	"manifest.definition.oauth1":                 "requestTokenUrl",
	"manifest.definition.credentials":            "credentialSchema",
	"manifest.definition.credentials.schema":     "credentialSchema",
	"manifest.definition.credentials.fieldName":  "credentialFieldName",
	"manifest.definition.credentialHeaderName":   "credentialHeaderName",
	"manifest.definition.credentialHeaderPrefix": "credentialHeaderPrefix",
	"manifest.definition.credentialTransform":    "credentialTransform",
	"manifest.definition.authorizedUris":         "authorizedUris",
	"manifest.definition.allowAllUris":           "allowAllUris",
	"manifest.definition.availableScopes":        "availableScopes",
	"manifest.definition.adminCredentialSchema":  "adminCredentialSchema",
}

// FlatField maps a manifest issue path ("manifest.definition.oauth2.tokenUrl") to the flat body's field
// ("tokenUrl"); unknown paths are returned unchanged.
func FlatField(path string) string {
	if f, ok := flatFields[path]; ok {
		return f
	}
	for _, prefix := range []string{"manifest.definition.oauth2.", "manifest.definition.oauth1."} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			name, _, _ := strings.Cut(rest, ".")
			return name
		}
	}
	for prefix, f := range map[string]string{"manifest.definition.credentials.schema.": "credentialSchema.",
		"manifest.definition.availableScopes[": "availableScopes[", "manifest.definition.authorizedUris[": "authorizedUris[",
		"manifest.definition.credentialTransform.": "credentialTransform.", "manifest.setupGuide.": "setupGuide."} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			return f + rest
		}
	}
	return path
}

// flattenRegistryError renames the manifest fields of a registry validation error to the flat body's.
func flattenRegistryError(err error) error {
	var re *packages.RegistryError
	if !errors.As(err, &re) || len(re.Issues) == 0 {
		return err
	}
	cp := *re
	cp.Issues = make([]packages.FieldIssue, len(re.Issues))
	for i, is := range re.Issues {
		is.Field = FlatField(is.Field)
		cp.Issues[i] = is
	}
	if len(cp.Issues) > 0 {
		cp.Message = cp.Issues[0].Field + ": " + cp.Issues[0].Message
		if n := len(cp.Issues) - 1; n > 0 {
			cp.Message += fmt.Sprintf(" (+%d more)", n)
		}
	}
	return &cp
}

// adminCredentialsOf turns the body's clientId/clientSecret into the mode's admin credential fields.
func adminCredentialsOf(in CustomProviderInput) map[string]any {
	if in.ClientID == "" && in.ClientSecret == "" {
		return nil
	}
	idKey, secretKey := "clientId", "clientSecret"
	if in.AuthMode == afps.AuthOAuth1 {
		idKey, secretKey = "consumerKey", "consumerSecret"
	}
	out := map[string]any{}
	if in.ClientID != "" {
		out[idKey] = in.ClientID
	}
	if in.ClientSecret != "" {
		out[secretKey] = in.ClientSecret
	}
	return out
}

func (s *Providers) registryCaller(a ConnectionActor) packages.Caller {
	return packages.Caller{OrgID: a.OrgID, AppID: a.AppID, UserID: a.UserID, Audit: a.Audit}
}

// Create makes a custom provider of the actor's organization through the package registry (validation, scope
// check, name collision, draft, version, installation and enablement in the actor's application), then stores
// clientId/clientSecret as the application's admin credentials. It returns the provider id.
func (s *Providers) Create(ctx context.Context, a ConnectionActor, in CustomProviderInput) (string, error) {
	if isSystemID(in.ID) {
		return "", fmt.Errorf("%w: %s", ErrSystemProvider, in.ID)
	}
	raw, err := BuildManifest(in)
	if err != nil {
		return "", err
	}
	res, err := s.Registry.Create(ctx, s.registryCaller(a), packages.TypeProvider, packages.DraftInput{Manifest: raw})
	if err != nil {
		return "", flattenRegistryError(err)
	}
	if creds := adminCredentialsOf(in); creds != nil && a.AppID != "" {
		if err := s.SetAppCredentials(ctx, a, a.AppID, res.PackageID, AppCredentialsInput{Credentials: creds}); err != nil {
			return "", err
		}
	}
	return res.PackageID, nil
}

// Update replaces the manifest of one of the organization's custom providers (system providers: 403
// operation_not_allowed) and, when clientId/clientSecret are sent, the application's admin credentials.
func (s *Providers) Update(ctx context.Context, a ConnectionActor, id string, in CustomProviderInput) error {
	if in.ID != "" && in.ID != id {
		return &ValidationError{Issues: []FieldIssue{{Field: "id", Code: "invalid_value", Message: "must be " + id + " (a provider cannot be renamed)"}}}
	}
	in.ID = id
	pkg, err := s.ownedProvider(ctx, a, id)
	if err != nil {
		return err
	}
	raw, err := BuildManifest(in)
	if err != nil {
		return err
	}
	_, err = s.Registry.Update(ctx, s.registryCaller(a), packages.TypeProvider, id,
		packages.UpdateInput{DraftInput: packages.DraftInput{Manifest: raw}, LockVersion: pkg.LockVersion})
	if err != nil {
		return flattenRegistryError(err)
	}
	if creds := adminCredentialsOf(in); creds != nil && a.AppID != "" {
		return s.SetAppCredentials(ctx, a, a.AppID, id, AppCredentialsInput{Credentials: creds})
	}
	return nil
}

// Delete removes one of the organization's custom providers (409 provider_in_use while an agent declares
// it). Its application credential rows and connections go with it.
func (s *Providers) Delete(ctx context.Context, a ConnectionActor, id string) error {
	if _, err := s.ownedProvider(ctx, a, id); err != nil {
		return err
	}
	return s.Registry.Delete(ctx, s.registryCaller(a), packages.TypeProvider, id)
}

// ownedProvider loads a provider the organization may change: ErrSystemProvider for system providers,
// ErrProviderNotFound for anything not the organization's.
func (s *Providers) ownedProvider(ctx context.Context, a ConnectionActor, id string) (*packages.Package, error) {
	if isSystemID(id) {
		return nil, fmt.Errorf("%w: %s", ErrSystemProvider, id)
	}
	pkg, err := packages.GetPackage(ctx, s.DB, id)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrProviderNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if pkg.IsSystem() {
		return nil, fmt.Errorf("%w: %s", ErrSystemProvider, id)
	}
	if pkg.Type != packages.TypeProvider || pkg.OrgID != a.OrgID || pkg.Ephemeral {
		return nil, fmt.Errorf("%w: %s", ErrProviderNotFound, id)
	}
	return pkg, nil
}

func isSystemID(id string) bool { return strings.HasPrefix(id, packages.SystemScope+"/") }
