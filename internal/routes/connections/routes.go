package connections

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	prov "github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
	provroutes "github.com/appstrate/appstrate-go/internal/routes/providers"
)

var tags = []string{"Connections"}

// Deps are what the connection routes need.
type Deps struct {
	Connections    *prov.Connections
	AppURL         string   // the callback page posts its message to this origin…
	TrustedOrigins []string // …and to these (TRUSTED_ORIGINS)
	Logger         *slog.Logger
}

type handlers struct{ Deps }

// Register adds the connection routes.
func Register(api huma.API, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := handlers{d}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	ua := apppackages.WithUserAgent
	connect := httpapi.Require("connections:connect")
	actorDoc := " The actor is the impersonated end-user (Appstrate-User with an API key), else the user (an API key's creator)."
	profileDoc := " connectionProfileId defaults to the actor's default profile (an end-user's Default; a user's profile " +
		"pinned for the application, else their Default); it must be the actor's own or an application profile of the " +
		"application (else 403)."

	httpapi.Register(api, huma.Operation{
		OperationID: "listConnections", Method: http.MethodGet, Path: "/api/connections", Tags: tags, Errors: errs,
		Summary: "List your connections",
		Description: "The actor's connections on a profile made with the current application's provider credentials: " +
			"{provider, status, connectionId, connectionProfileId, connectedAt, expiresAt, scopesGranted}. Credentials are " +
			"never returned." + profileDoc + actorDoc,
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "listIntegrations", Method: http.MethodGet, Path: "/api/connections/integrations", Tags: tags, Errors: errs,
		Summary: "List integrations",
		Description: "Every provider enabled in the current application with the actor's connection state on the profile → " +
			"{integrations}." + profileDoc,
	}, h.integrations)
	httpapi.Register(api, huma.Operation{
		OperationID: "connectOAuth", Method: http.MethodPost, Path: "/api/connections/connect/{scope}/{name}", Tags: tags,
		Errors:  append(errs, http.StatusBadGateway),
		Summary: "Start an OAuth connection",
		Description: "OAuth 2 (authorization code with S256 PKCE unless the provider disables it; scopes = the provider's " +
			"defaultScopes ∪ scopes) or OAuth 1.0a (request token) → {authUrl, state}. Open authUrl; the provider redirects " +
			"to /api/connections/callback, which stores the connection. The flow expires after 10 minutes. The provider " +
			"must be enabled in the application (403) with its admin credentials (400 provider_not_configured). " +
			"Requires connections:connect." + profileDoc,
		Middlewares: huma.Middlewares{connect, ua},
	}, h.connect)
	httpapi.Register(api, huma.Operation{
		OperationID: "connectApiKey", Method: http.MethodPost, Path: "/api/connections/connect/{scope}/{name}/api-key", Tags: tags,
		Errors:  errs,
		Summary: "Connect with an API key",
		Description: "Stores the API key (trimmed) of an api_key provider as {<credentials.fieldName>: key}, encrypted → " +
			"{success:true}. Providers with several fields take them through …/credentials. Requires connections:connect." + profileDoc,
		Middlewares: huma.Middlewares{connect, ua},
	}, h.apiKey)
	httpapi.Register(api, huma.Operation{
		OperationID: "connectCredentials", Method: http.MethodPost, Path: "/api/connections/connect/{scope}/{name}/credentials",
		Tags: tags, Errors: errs,
		Summary: "Connect with credentials",
		Description: "Stores the fields of an api_key, basic or custom provider, encrypted, after validating them against the " +
			"provider's credential schema (required fields, types, no undeclared fields; 400 validation_failed with " +
			"credentials.<field> errors) → {success:true}. Requires connections:connect." + profileDoc,
		Middlewares: huma.Middlewares{connect, ua},
	}, h.credentials)
	httpapi.Register(api, huma.Operation{
		OperationID: "oauthCallback", Method: http.MethodGet, Path: "/api/connections/callback", Tags: tags,
		Security: httpapi.Public, Responses: callbackResponses,
		Summary: "OAuth callback",
		Description: "Redirect URI of every OAuth flow (<APP_URL>/api/connections/callback): OAuth 2 (code, state or error) or " +
			"OAuth 1.0a (oauth_token, oauth_verifier). Exchanges the grant, stores the connection and answers a small HTML " +
			"page that posts {type:\"appstrate:oauth-callback\", ok, providerId, message} to its opener and closes itself. Public.",
	}, h.callback)
	httpapi.Register(api, huma.Operation{
		OperationID: "disconnect", Method: http.MethodDelete, Path: "/api/connections/{scope}/{name}", Tags: tags, Errors: errs,
		Summary: "Disconnect a provider",
		Description: "Deletes the connection named by connectionId (one of the actor's, in the current application, else 404), " +
			"or the actor's connection to the provider on the profile → {success:true, deleted}. Requires connections:disconnect.",
		Middlewares: huma.Middlewares{httpapi.Require("connections:disconnect"), ua},
	}, h.disconnect)
}

type profileQuery struct {
	ConnectionProfileID string `query:"connectionProfileId" doc:"Connection profile (default: the actor's default profile)"`
}

type listOutput struct {
	Body httpapi.List[prov.ConnectionView]
}

func (h handlers) list(ctx context.Context, in *profileQuery) (*listOutput, error) {
	rows, err := h.Connections.List(ctx, provroutes.Actor(ctx), in.ConnectionProfileID)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &listOutput{Body: httpapi.NewList(rows, false)}, nil
}

// IntegrationsBody is {integrations}.
type IntegrationsBody struct {
	Integrations []prov.Integration `json:"integrations"`
}

type integrationsOutput struct{ Body IntegrationsBody }

func (h handlers) integrations(ctx context.Context, in *profileQuery) (*integrationsOutput, error) {
	rows, err := h.Connections.Integrations(ctx, provroutes.Actor(ctx), in.ConnectionProfileID)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &integrationsOutput{Body: IntegrationsBody{Integrations: rows}}, nil
}

// ConnectBody is the optional body of the OAuth start.
type ConnectBody struct {
	Scopes              []string `json:"scopes,omitempty" maxItems:"100" doc:"Scopes requested on top of the provider's defaultScopes"`
	ConnectionProfileID string   `json:"connectionProfileId,omitempty" doc:"Profile to store the connection on"`
}

type connectInput struct {
	provroutes.ProviderPath
	Body *ConnectBody `required:"false"`
}

type connectOutput struct{ Body *prov.OAuthStart }

func (h handlers) connect(ctx context.Context, in *connectInput) (*connectOutput, error) {
	b := in.Body
	if b == nil {
		b = &ConnectBody{}
	}
	res, err := h.Connections.StartOAuth(ctx, provroutes.Actor(ctx), in.ID(), b.Scopes, b.ConnectionProfileID)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &connectOutput{Body: res}, nil
}

// SuccessBody is {success:true}.
type SuccessBody struct {
	Success bool `json:"success"`
}

type successOutput struct{ Body SuccessBody }

type apiKeyInput struct {
	provroutes.ProviderPath
	Body struct {
		APIKey              string `json:"apiKey" minLength:"1" maxLength:"16384"`
		ConnectionProfileID string `json:"connectionProfileId,omitempty"`
	}
}

func (h handlers) apiKey(ctx context.Context, in *apiKeyInput) (*successOutput, error) {
	if err := h.Connections.SaveAPIKey(ctx, provroutes.Actor(ctx), in.ID(), in.Body.APIKey, in.Body.ConnectionProfileID); err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &successOutput{Body: SuccessBody{Success: true}}, nil
}

type credentialsInput struct {
	provroutes.ProviderPath
	Body struct {
		Credentials         map[string]any `json:"credentials" doc:"Field values (strings, numbers or booleans)"`
		ConnectionProfileID string         `json:"connectionProfileId,omitempty"`
	}
}

func (h handlers) credentials(ctx context.Context, in *credentialsInput) (*successOutput, error) {
	err := h.Connections.SaveCredentials(ctx, provroutes.Actor(ctx), in.ID(), in.Body.Credentials, in.Body.ConnectionProfileID)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &successOutput{Body: SuccessBody{Success: true}}, nil
}

type disconnectInput struct {
	provroutes.ProviderPath
	ConnectionID        string `query:"connectionId" doc:"The connection to delete"`
	ConnectionProfileID string `query:"connectionProfileId" doc:"Without connectionId: the profile (default: the actor's default)"`
}

// DisconnectBody is {success, deleted}.
type DisconnectBody struct {
	Success bool `json:"success"`
	Deleted int  `json:"deleted" doc:"Connections deleted (0 when there was none)"`
}

type disconnectOutput struct{ Body DisconnectBody }

func (h handlers) disconnect(ctx context.Context, in *disconnectInput) (*disconnectOutput, error) {
	n, err := h.Connections.Disconnect(ctx, provroutes.Actor(ctx), in.ID(), in.ConnectionID, in.ConnectionProfileID)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	return &disconnectOutput{Body: DisconnectBody{Success: true, Deleted: n}}, nil
}
