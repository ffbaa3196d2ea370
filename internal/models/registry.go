package models

import "github.com/appstrate/appstrate-go/internal/llm"

// Provider is a model provider the platform knows how to call with an API key.
type Provider struct {
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	APIShape       string `json:"apiShape"`       // the wire format of its models (MODEL_API)
	DefaultBaseURL string `json:"defaultBaseUrl"` // "" when the base URL must be given (baseUrlRequired)
	// BaseURLRequired: the provider has no public endpoint (OpenAI-compatible servers, local ones).
	BaseURLRequired bool   `json:"baseUrlRequired"`
	AuthMode        string `json:"authMode"`          // always "api_key" here (OAuth model providers are separate)
	TestModel       string `json:"testModel"`         // the model the connection test uses when none is given
	KeyRequired     bool   `json:"apiKeyRequired"`    // false for local servers that take no key
	DocsURL         string `json:"docsUrl,omitempty"` // where to get a key
}

// providers is the registry, in display order.
var providers = []Provider{
	{ID: "anthropic", DisplayName: "Anthropic", APIShape: string(llm.Anthropic), DefaultBaseURL: llm.DefaultAnthropicBaseURL,
		TestModel: "claude-haiku-4-5", KeyRequired: true, DocsURL: "https://console.anthropic.com/settings/keys"},
	{ID: "openai", DisplayName: "OpenAI", APIShape: string(llm.OpenAIResponses), DefaultBaseURL: llm.DefaultOpenAIBaseURL,
		TestModel: "gpt-4.1-mini", KeyRequired: true, DocsURL: "https://platform.openai.com/api-keys"},
	{ID: "google", DisplayName: "Google Gemini", APIShape: string(llm.Gemini), DefaultBaseURL: llm.DefaultGeminiBaseURL,
		TestModel: "gemini-2.5-flash", KeyRequired: true, DocsURL: "https://aistudio.google.com/apikey"},
	{ID: "mistral", DisplayName: "Mistral", APIShape: "mistral-conversations", DefaultBaseURL: "https://api.mistral.ai/v1",
		TestModel: "mistral-small-latest", KeyRequired: true, DocsURL: "https://console.mistral.ai/api-keys"},
	{ID: "openrouter", DisplayName: "OpenRouter", APIShape: string(llm.OpenAIChat), DefaultBaseURL: "https://openrouter.ai/api/v1",
		TestModel: "openai/gpt-4.1-mini", KeyRequired: true, DocsURL: "https://openrouter.ai/keys"},
	{ID: "openai-compatible", DisplayName: "OpenAI-compatible", APIShape: string(llm.OpenAIChat), BaseURLRequired: true},
}

// Providers lists the model providers of the registry (GET /api/model-provider-credentials/registry).
func Providers() []Provider {
	out := make([]Provider, len(providers))
	copy(out, providers)
	for i := range out {
		out[i].AuthMode = "api_key"
	}
	return out
}

// LookupProvider returns the registry entry of id.
func LookupProvider(id string) (Provider, bool) {
	for _, p := range providers {
		if p.ID == id {
			p.AuthMode = "api_key"
			return p, true
		}
	}
	return Provider{}, false
}

// providerOf is the entry of id, or an OpenAI-compatible stand-in for the ids of SYSTEM_PROVIDER_KEYS the
// registry does not know (the operator configured them, so they are served as compatible endpoints).
func providerOf(id string) Provider {
	if p, ok := LookupProvider(id); ok {
		return p
	}
	return Provider{ID: id, DisplayName: id, APIShape: string(llm.OpenAIChat), AuthMode: "api_key"}
}

// wireAPI is the llm client used to reach a model of the given shape: Mistral serves Chat Completions too.
func wireAPI(shape string) string {
	if shape == "mistral-conversations" {
		return string(llm.OpenAIChat)
	}
	return shape
}
