package httpapi

import (
	"github.com/danielgtaylor/huma/v2"
)

// Security scheme names of the OpenAPI document (API.md §5 item 20).
const (
	SecurityCookie    = "cookieAuth"
	SecurityAPIKey    = "bearerApiKey"
	SecurityJWT       = "bearerJwt"
	SecurityExecToken = "bearerExecToken"
)

// Public is the Security value of operations that need no authentication.
var Public = []map[string][]string{}

// stampProblem fills requestId/instance of problems returned by handlers.
func stampProblem(ctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*Problem); ok {
		p.stamp(RequestIDFrom(ctx.Context()))
	}
	return v, nil
}

func humaConfig(opts Options) huma.Config {
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	cfg := huma.DefaultConfig("Appstrate API", version)
	cfg.CreateHooks = nil // no $schema members or describedby links: bodies match upstream exactly
	cfg.OpenAPIPath = "/api/openapi"
	cfg.DocsPath = "/api/docs"
	cfg.DocsRenderer = huma.DocsRendererSwaggerUI
	cfg.SchemasPath = ""
	cfg.Transformers = append(cfg.Transformers, stampProblem)
	cfg.Info.Description = "HTTP API of the Appstrate Agent-as-a-Service platform. API version " + CurrentAPIVersion +
		" (send `Appstrate-Version` to pin it). Errors are RFC 9457 problem+json documents."
	if opts.AppURL != "" {
		cfg.Servers = []*huma.Server{{URL: opts.AppURL}}
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SecurityCookie: {Type: "apiKey", In: "cookie", Name: "better-auth.session_token",
			Description: "Dashboard session cookie (requires X-Org-Id and, for application routes, X-Application-Id)."},
		SecurityAPIKey: {Type: "http", Scheme: "bearer", BearerFormat: "ask_<48 hex>",
			Description: "API key, pinned to one organization and application."},
		SecurityJWT: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "ES256 access token from the CLI device flow or an OIDC client."},
		SecurityExecToken: {Type: "http", Scheme: "bearer",
			Description: "Run token (<runId>.<hmac>) used by a run's sidecar on /internal routes."},
	}
	cfg.Security = []map[string][]string{{SecurityCookie: {}}, {SecurityAPIKey: {}}}
	return cfg
}
