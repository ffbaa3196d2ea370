package providers

import (
	"context"
	"encoding/json"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// Sources of providers on the wire.
const (
	SourceBuiltIn = "built-in"
	SourceCustom  = "custom"
)

// ProviderView is one provider of GET /api/providers: the resolved definition flattened as the create body
// writes it (the defaults of PACKAGES.md §4.1 applied), plus the application's state. Secrets are never part
// of it.
type ProviderView struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
	Author      string `json:"author,omitempty"`
	Source      string `json:"source" enum:"built-in,custom"`
	AuthMode    string `json:"authMode" enum:"oauth2,oauth1,api_key,basic,custom"`

	IconURL    string           `json:"iconUrl,omitempty"`
	Categories []string         `json:"categories"`
	DocsURL    string           `json:"docsUrl,omitempty"`
	SetupGuide *afps.SetupGuide `json:"setupGuide,omitempty"`

	// OAuth 2 (authorizationUrl and authorizationParams also serve OAuth 1.0a).
	AuthorizationURL    string            `json:"authorizationUrl,omitempty"`
	TokenURL            string            `json:"tokenUrl,omitempty"`
	RefreshURL          string            `json:"refreshUrl,omitempty"`
	DefaultScopes       []string          `json:"defaultScopes,omitempty"`
	ScopeSeparator      *string           `json:"scopeSeparator,omitempty"`
	PKCEEnabled         *bool             `json:"pkceEnabled,omitempty"`
	TokenAuthMethod     string            `json:"tokenAuthMethod,omitempty"`
	TokenContentType    string            `json:"tokenContentType,omitempty"`
	AuthorizationParams map[string]string `json:"authorizationParams,omitempty"`
	TokenParams         map[string]string `json:"tokenParams,omitempty"`
	// OAuth 1.0a.
	RequestTokenURL string `json:"requestTokenUrl,omitempty"`
	AccessTokenURL  string `json:"accessTokenUrl,omitempty"`

	CredentialSchema       json.RawMessage           `json:"credentialSchema,omitempty"`
	CredentialFieldName    string                    `json:"credentialFieldName"`
	CredentialHeaderName   string                    `json:"credentialHeaderName,omitempty"`
	CredentialHeaderPrefix string                    `json:"credentialHeaderPrefix,omitempty"`
	CredentialTransform    *afps.CredentialTransform `json:"credentialTransform,omitempty"`
	AuthorizedURIs         []string                  `json:"authorizedUris"`
	AllowAllURIs           bool                      `json:"allowAllUris"`
	AvailableScopes        []afps.Scope              `json:"availableScopes,omitempty"`
	AdminCredentialSchema  json.RawMessage           `json:"adminCredentialSchema" doc:"Fields the application admin supplies (null: none)"`

	HasCredentials bool `json:"hasCredentials" doc:"The current application stored non-empty admin credentials"`
	Enabled        bool `json:"enabled" doc:"The provider is enabled in the current application"`
	UsedByAgents   int  `json:"usedByAgents" doc:"Agents of the organization that declare this provider"`
}

// ProviderList is GET /api/providers: the providers and the OAuth redirect URI to register with them.
type ProviderList struct {
	Providers   []ProviderView
	CallbackURL string
}

// List returns every provider the organization sees (system first, then its own) with the state of the
// actor's application.
func (s *Providers) List(ctx context.Context, a ConnectionActor) (*ProviderList, error) {
	all, err := s.listProviders(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	creds, err := appCredentials(ctx, s.DB, a.AppID)
	if err != nil {
		return nil, err
	}
	used, err := agentProviderCounts(ctx, s.DB, a.OrgID)
	if err != nil {
		return nil, err
	}
	out := &ProviderList{Providers: make([]ProviderView, 0, len(all)), CallbackURL: s.CallbackURL()}
	for _, p := range all {
		v := view(p)
		if c, ok := creds[p.ID]; ok {
			v.Enabled = c.Enabled
			m, err := decryptMap(s.Keys, c.Envelope)
			if err != nil {
				return nil, err
			}
			v.HasCredentials = len(m) > 0
		}
		v.UsedByAgents = used[p.ID]
		out.Providers = append(out.Providers, v)
	}
	return out, nil
}

// view flattens a provider.
func view(p *Provider) ProviderView {
	m, d := p.Manifest, p.Def()
	v := ProviderView{ID: p.ID, DisplayName: p.DisplayName(), Description: m.Description, Version: m.Version,
		Author: m.Author, Source: SourceCustom, AuthMode: d.AuthMode, IconURL: m.IconURL, Categories: m.Categories,
		DocsURL: m.DocsURL, SetupGuide: m.SetupGuide, CredentialFieldName: d.CredentialFieldName(),
		CredentialHeaderName: d.CredentialHeaderName, CredentialHeaderPrefix: d.CredentialHeaderPrefix,
		CredentialTransform: d.CredentialTransform, AuthorizedURIs: d.AuthorizedURIs, AllowAllURIs: d.AllowAllURIs,
		AvailableScopes: d.AvailableScopes, AdminCredentialSchema: d.AdminSchema()}
	if p.IsSystem() {
		v.Source = SourceBuiltIn
	}
	if v.Categories == nil {
		v.Categories = []string{}
	}
	if v.AuthorizedURIs == nil {
		v.AuthorizedURIs = []string{}
	}
	if d.Credentials != nil && len(d.Credentials.Schema) > 0 {
		v.CredentialSchema = d.Credentials.Schema
	}
	if o := d.OAuth2; o != nil {
		pkce, sep := o.PKCE(), o.Separator()
		v.AuthorizationURL, v.TokenURL, v.RefreshURL = o.AuthorizationURL, o.TokenURL, o.RefreshEndpoint()
		v.DefaultScopes, v.ScopeSeparator, v.PKCEEnabled = o.DefaultScopes, &sep, &pkce
		v.TokenAuthMethod, v.TokenContentType = o.AuthMethod(), o.ContentType()
		v.AuthorizationParams, v.TokenParams = o.AuthorizationParams, o.TokenParams
	}
	if o := d.OAuth1; o != nil {
		v.RequestTokenURL, v.AccessTokenURL = o.RequestTokenURL, o.AccessTokenURL
		v.AuthorizationURL, v.AuthorizationParams = o.AuthorizationURL, o.AuthorizationParams
	}
	return v
}
