package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// JSON-valued variables. Objects are decoded over their defaults, so a partial object keeps the
// defaults of the keys it omits; unknown keys and trailing data are rejected. Limit objects use
// snake_case keys like upstream; entry objects (providers, proxies, clients, keys) use camelCase.

// PlatformRunLimits is PLATFORM_RUN_LIMITS: org-wide run admission.
type PlatformRunLimits struct {
	TimeoutCeilingSeconds  int `json:"timeout_ceiling_seconds"`     // 1800
	PerOrgGlobalRatePerMin int `json:"per_org_global_rate_per_min"` // 200
	MaxConcurrentPerOrg    int `json:"max_concurrent_per_org"`      // 50
}

// InlineRunLimits is INLINE_RUN_LIMITS: caps on ad-hoc runs (POST /api/runs/inline). The key names
// beyond rate_per_min and retention_days are ours where upstream does not document them.
type InlineRunLimits struct {
	RatePerMin         int  `json:"rate_per_min"`         // 60
	MaxManifestBytes   int  `json:"max_manifest_bytes"`   // 65536
	MaxPromptBytes     int  `json:"max_prompt_bytes"`     // 200000
	MaxSkills          int  `json:"max_skills"`           // 20
	MaxTools           int  `json:"max_tools"`            // 20
	MaxAuthorizedURIs  int  `json:"max_authorized_uris"`  // 50
	WildcardURIAllowed bool `json:"wildcard_uri_allowed"` // false
	RetentionDays      int  `json:"retention_days"`       // 30
}

// LLMProxyLimits is LLM_PROXY_LIMITS.
type LLMProxyLimits struct {
	RatePerMin int `json:"rate_per_min"` // 60
}

// CredentialProxyLimits is CREDENTIAL_PROXY_LIMITS. session_ttl_seconds is our name for the
// documented 3600 s session TTL.
type CredentialProxyLimits struct {
	RatePerMin        int `json:"rate_per_min"`        // 100
	SessionTTLSeconds int `json:"session_ttl_seconds"` // 3600
}

// RemoteRunEventLimits is REMOTE_RUN_EVENT_LIMITS: sink event requests per run per second.
type RemoteRunEventLimits struct {
	RatePerSec int `json:"rate_per_sec"` // 50
	Burst      int `json:"burst"`        // 200 (the value actually enforced)
}

// SystemProviderKey is one entry of SYSTEM_PROVIDER_KEYS: a built-in model-provider credential and
// its models. "baseUrl" is accepted as an alias of "baseUrlOverride". Whether ProviderID names a
// known provider is checked by the providers package, not here.
type SystemProviderKey struct {
	ID              string        `json:"id"`
	Label           string        `json:"label,omitempty"`
	ProviderID      string        `json:"providerId"`
	APIKey          string        `json:"apiKey"`
	BaseURLOverride string        `json:"baseUrlOverride,omitempty"`
	Models          []SystemModel `json:"models"`
}

// SystemModel is one model of a SystemProviderKey. Enabled defaults to true.
type SystemModel struct {
	ID            string     `json:"id,omitempty"`
	ModelID       string     `json:"modelId"`
	Label         string     `json:"label,omitempty"`
	Input         []string   `json:"input,omitempty"` // modalities: "text", "image"
	ContextWindow int        `json:"contextWindow,omitempty"`
	MaxTokens     int        `json:"maxTokens,omitempty"`
	Reasoning     bool       `json:"reasoning,omitempty"`
	Cost          *ModelCost `json:"cost,omitempty"`
	IsDefault     bool       `json:"isDefault,omitempty"`
	Enabled       bool       `json:"enabled"`
}

// ModelCost is a model price in dollars per million tokens.
type ModelCost struct {
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	CacheRead  float64 `json:"cacheRead,omitempty"`
	CacheWrite float64 `json:"cacheWrite,omitempty"`
}

// SystemProxy is one entry of SYSTEM_PROXIES: a read-only outbound proxy. Enabled defaults to true.
type SystemProxy struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	URL       string `json:"url"`
	IsDefault bool   `json:"isDefault,omitempty"`
	Enabled   bool   `json:"enabled"`
}

// OIDCInstanceClient is one entry of OIDC_INSTANCE_CLIENTS: an instance-level OAuth client created at
// boot. Upstream documents only the default ([]); this shape is ours.
type OIDCInstanceClient struct {
	ClientID               string   `json:"clientId"`
	ClientSecret           string   `json:"clientSecret,omitempty"` // empty = public client
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirectUris"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`
	Scopes                 []string `json:"scopes,omitempty"`
	SkipConsent            bool     `json:"skipConsent,omitempty"`
}

// TrustedKey is one entry of AFPS_TRUST_ROOT: an Ed25519 public key (standard base64, 32 bytes).
type TrustedKey struct {
	KeyID     string            `json:"keyId"`
	PublicKey ed25519.PublicKey `json:"publicKey"`
	Comment   string            `json:"comment,omitempty"`
}

// DefaultPlatformRunLimits is PLATFORM_RUN_LIMITS when unset; its values fill keys missing from the JSON.
func DefaultPlatformRunLimits() PlatformRunLimits { return PlatformRunLimits{1800, 200, 50} }

// DefaultInlineRunLimits is INLINE_RUN_LIMITS when unset; its values fill keys missing from the JSON.
func DefaultInlineRunLimits() InlineRunLimits {
	return InlineRunLimits{RatePerMin: 60, MaxManifestBytes: 64 << 10, MaxPromptBytes: 200_000, MaxSkills: 20,
		MaxTools: 20, MaxAuthorizedURIs: 50, RetentionDays: 30}
}

// DefaultLLMProxyLimits is LLM_PROXY_LIMITS when unset.
func DefaultLLMProxyLimits() LLMProxyLimits { return LLMProxyLimits{RatePerMin: 60} }

// DefaultCredentialProxyLimits is CREDENTIAL_PROXY_LIMITS when unset; its values fill missing keys.
func DefaultCredentialProxyLimits() CredentialProxyLimits {
	return CredentialProxyLimits{RatePerMin: 100, SessionTTLSeconds: 3600}
}

// DefaultRemoteRunEventLimits is REMOTE_RUN_EVENT_LIMITS when unset; its values fill missing keys.
func DefaultRemoteRunEventLimits() RemoteRunEventLimits {
	return RemoteRunEventLimits{RatePerSec: 50, Burst: 200}
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown object keys.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// UnmarshalJSON applies the Enabled default and rejects unknown keys.
func (m *SystemModel) UnmarshalJSON(b []byte) error {
	type plain SystemModel
	x := plain{Enabled: true}
	err := decodeStrict(b, &x)
	*m = SystemModel(x)
	return err
}

// UnmarshalJSON applies the Enabled default and rejects unknown keys.
func (p *SystemProxy) UnmarshalJSON(b []byte) error {
	type plain SystemProxy
	x := plain{Enabled: true}
	err := decodeStrict(b, &x)
	*p = SystemProxy(x)
	return err
}

// UnmarshalJSON accepts "baseUrl" as an alias of "baseUrlOverride" and rejects unknown keys.
func (k *SystemProviderKey) UnmarshalJSON(b []byte) error {
	type plain SystemProviderKey
	x := struct {
		plain
		BaseURL string `json:"baseUrl,omitempty"`
	}{}
	if err := decodeStrict(b, &x); err != nil {
		return err
	}
	if x.BaseURL != "" && x.BaseURLOverride != "" && x.BaseURL != x.BaseURLOverride {
		return errors.New(`"baseUrl" and "baseUrlOverride" disagree`)
	}
	if x.BaseURLOverride == "" {
		x.BaseURLOverride = x.BaseURL
	}
	*k = SystemProviderKey(x.plain)
	return nil
}

// jsonVar decodes a JSON variable over def(); shape describes the expected form in error messages.
func jsonVar[T any](name string, ptr func(*Config) *T, def func() T, shape string, validate func(T) error) variable {
	parse := func(s string) (T, error) {
		x := def()
		if err := decodeStrict([]byte(s), &x); err != nil {
			return x, fmt.Errorf("%s (%s)", shape, oneLine(err.Error()))
		}
		if err := validate(x); err != nil {
			return x, fmt.Errorf("%s (%s)", shape, oneLine(err.Error()))
		}
		return x, nil
	}
	return field(name, ptr, func(*Config) T { return def() }, parse, formatJSON)
}

func formatJSON[T any](x T) string {
	b, err := json.Marshal(x)
	if err != nil || string(b) == "null" {
		return ""
	}
	return string(b)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// objectShape describes a JSON object type by its keys, for error messages.
func objectShape[T any]() string {
	t := reflect.TypeFor[T]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, strings.Split(t.Field(i).Tag.Get("json"), ",")[0])
	}
	return "a JSON object with keys among " + strings.Join(keys, ", ")
}

// namedInt is a JSON key and its value, for atLeast.
type namedInt struct {
	name string
	n    int
}

// atLeast checks named integers in order; the first one below min is reported.
func atLeast(min int, fields ...namedInt) error {
	for _, f := range fields {
		if f.n < min {
			return fmt.Errorf("%q must be an integer >= %d", f.name, min)
		}
	}
	return nil
}

func (l PlatformRunLimits) validate() error {
	return atLeast(1, namedInt{"timeout_ceiling_seconds", l.TimeoutCeilingSeconds},
		namedInt{"per_org_global_rate_per_min", l.PerOrgGlobalRatePerMin},
		namedInt{"max_concurrent_per_org", l.MaxConcurrentPerOrg})
}

func (l InlineRunLimits) validate() error {
	if err := atLeast(1, namedInt{"rate_per_min", l.RatePerMin}, namedInt{"max_manifest_bytes", l.MaxManifestBytes},
		namedInt{"max_prompt_bytes", l.MaxPromptBytes}, namedInt{"retention_days", l.RetentionDays}); err != nil {
		return err
	}
	return atLeast(0, namedInt{"max_skills", l.MaxSkills}, namedInt{"max_tools", l.MaxTools},
		namedInt{"max_authorized_uris", l.MaxAuthorizedURIs})
}

func (l LLMProxyLimits) validate() error { return atLeast(1, namedInt{"rate_per_min", l.RatePerMin}) }

func (l CredentialProxyLimits) validate() error {
	return atLeast(1, namedInt{"rate_per_min", l.RatePerMin}, namedInt{"session_ttl_seconds", l.SessionTTLSeconds})
}

func (l RemoteRunEventLimits) validate() error {
	return atLeast(1, namedInt{"rate_per_sec", l.RatePerSec}, namedInt{"burst", l.Burst})
}
