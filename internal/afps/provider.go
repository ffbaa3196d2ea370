package afps

import "encoding/json"

// Provider auth modes (definition.authMode).
const (
	AuthOAuth2 = "oauth2"
	AuthOAuth1 = "oauth1"
	AuthAPIKey = "api_key"
	AuthBasic  = "basic"
	AuthCustom = "custom"
)

// ProviderDefinition is a provider manifest's `definition` (PACKAGES.md §4.1). Unknown members are kept in the
// manifest's Raw bytes.
type ProviderDefinition struct {
	AuthMode               string               `json:"authMode"`
	OAuth2                 *OAuth2Config        `json:"oauth2,omitempty"`
	OAuth1                 *OAuth1Config        `json:"oauth1,omitempty"`
	Credentials            *CredentialsConfig   `json:"credentials,omitempty"`
	CredentialHeaderName   string               `json:"credentialHeaderName,omitempty"`
	CredentialHeaderPrefix string               `json:"credentialHeaderPrefix,omitempty"`
	CredentialTransform    *CredentialTransform `json:"credentialTransform,omitempty"`
	AuthorizedURIs         []string             `json:"authorizedUris,omitempty"`
	AllowAllURIs           bool                 `json:"allowAllUris,omitempty"`
	AvailableScopes        []Scope              `json:"availableScopes,omitempty"`
	UploadProtocols        []string             `json:"uploadProtocols,omitempty"`
	AdminCredentialSchema  json.RawMessage      `json:"adminCredentialSchema,omitempty"`
}

// OAuth2Config is `definition.oauth2`.
type OAuth2Config struct {
	AuthorizationURL    string            `json:"authorizationUrl"`
	TokenURL            string            `json:"tokenUrl"`
	RefreshURL          string            `json:"refreshUrl,omitempty"`
	DefaultScopes       []string          `json:"defaultScopes,omitempty"`
	ScopeSeparator      *string           `json:"scopeSeparator,omitempty"`
	PKCEEnabled         *bool             `json:"pkceEnabled,omitempty"`
	TokenAuthMethod     string            `json:"tokenAuthMethod,omitempty"`
	TokenContentType    string            `json:"tokenContentType,omitempty"`
	AuthorizationParams map[string]string `json:"authorizationParams,omitempty"`
	TokenParams         map[string]string `json:"tokenParams,omitempty"`
}

// OAuth1Config is `definition.oauth1`.
type OAuth1Config struct {
	RequestTokenURL     string            `json:"requestTokenUrl"`
	AccessTokenURL      string            `json:"accessTokenUrl"`
	AuthorizationURL    string            `json:"authorizationUrl,omitempty"`
	AuthorizationParams map[string]string `json:"authorizationParams,omitempty"`
}

// CredentialsConfig is `definition.credentials`.
type CredentialsConfig struct {
	Schema    json.RawMessage `json:"schema,omitempty"`
	FieldName string          `json:"fieldName,omitempty"`
}

// CredentialTransform renders a template of credential fields and encodes it (api_key mode).
type CredentialTransform struct {
	Template string `json:"template"`
	Encoding string `json:"encoding"`
}

// Scope is one entry of availableScopes: either {value, label} or a bare string (as the system providers
// write it), in which case Label is empty.
type Scope struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
}

// UnmarshalJSON accepts a string or a {value, label} object; anything else leaves the scope empty.
func (s *Scope) UnmarshalJSON(data []byte) error {
	var str string
	if json.Unmarshal(data, &str) == nil {
		s.Value = str
		return nil
	}
	var obj struct {
		Value string `json:"value"`
		Label string `json:"label"`
	}
	_ = json.Unmarshal(data, &obj)
	s.Value, s.Label = obj.Value, obj.Label
	return nil
}

// PKCE reports whether S256 PKCE is used (default true).
func (o *OAuth2Config) PKCE() bool { return o.PKCEEnabled == nil || *o.PKCEEnabled }

// Separator is the scope join character (default " ").
func (o *OAuth2Config) Separator() string {
	if o.ScopeSeparator == nil {
		return " "
	}
	return *o.ScopeSeparator
}

// RefreshEndpoint is refreshUrl, falling back to tokenUrl.
func (o *OAuth2Config) RefreshEndpoint() string {
	if o.RefreshURL != "" {
		return o.RefreshURL
	}
	return o.TokenURL
}

// AuthMethod is tokenAuthMethod (default client_secret_post).
func (o *OAuth2Config) AuthMethod() string {
	if o.TokenAuthMethod == "" {
		return "client_secret_post"
	}
	return o.TokenAuthMethod
}

// ContentType is tokenContentType (default form encoding).
func (o *OAuth2Config) ContentType() string {
	if o.TokenContentType == "" {
		return "application/x-www-form-urlencoded"
	}
	return o.TokenContentType
}

// CredentialFieldName is credentials.fieldName, defaulting to api_key in api_key mode and access_token
// otherwise.
func (d *ProviderDefinition) CredentialFieldName() string {
	if d.Credentials != nil && d.Credentials.FieldName != "" {
		return d.Credentials.FieldName
	}
	if d.AuthMode == AuthAPIKey {
		return "api_key"
	}
	return "access_token"
}

// AdminSchema is adminCredentialSchema, or the per-mode default: oauth2 → required clientId/clientSecret,
// oauth1 → required consumerKey/consumerSecret, other modes → nil (no admin credentials).
func (d *ProviderDefinition) AdminSchema() json.RawMessage {
	if len(d.AdminCredentialSchema) > 0 {
		return d.AdminCredentialSchema
	}
	switch d.AuthMode {
	case AuthOAuth2:
		return json.RawMessage(`{"type":"object","properties":{"clientId":{"type":"string"},"clientSecret":{"type":"string"}},"required":["clientId","clientSecret"]}`)
	case AuthOAuth1:
		return json.RawMessage(`{"type":"object","properties":{"consumerKey":{"type":"string"},"consumerSecret":{"type":"string"}},"required":["consumerKey","consumerSecret"]}`)
	}
	return nil
}
