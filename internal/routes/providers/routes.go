package providers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	prov "github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
)

var (
	tags    = []string{"Providers"}
	appTags = []string{"Application Providers"}
)

// Deps are what the provider routes need.
type Deps struct {
	Providers *prov.Providers
	Logger    *slog.Logger
}

type handlers struct{ Deps }

// Register adds the provider routes.
func Register(api huma.API, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := handlers{d}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	ua := apppackages.WithUserAgent
	write, del := httpapi.Require("providers:write"), httpapi.Require("providers:delete")

	httpapi.Register(api, huma.Operation{
		OperationID: "listProviders", Method: http.MethodGet, Path: "/api/providers", Tags: tags, Errors: errs,
		Summary: "List providers",
		Description: "System providers, then the organization's custom providers, each as its resolved definition (defaults " +
			"applied) with the current application's state: enabled, hasCredentials (admin credentials stored; never " +
			"returned) and usedByAgents. callbackUrl is the OAuth redirect URI to register with providers.",
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "createProvider", Method: http.MethodPost, Path: "/api/providers", Tags: tags,
		DefaultStatus: http.StatusCreated, Errors: errs,
		Summary: "Create a custom provider",
		Description: "Builds a provider manifest from the flat body and creates it as a package of the organization (scope " +
			"@<orgSlug>, else 403 scope_mismatch; existing id → 400 name_collision; system ids → 403 operation_not_allowed), " +
			"publishes its version, installs and enables it in the current application and stores clientId/clientSecret " +
			"(consumer key/secret for OAuth 1.0a) as the application's encrypted admin credentials → 201 {id}. " +
			"Requires providers:write.",
		Middlewares: huma.Middlewares{write, ua},
	}, h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateProvider", Method: http.MethodPut, Path: "/api/providers/{scope}/{name}", Tags: tags, Errors: errs,
		Summary:     "Update a custom provider",
		Description: "Replaces the manifest of one of the organization's providers from the flat body → {id}. System providers: 403 operation_not_allowed. Requires providers:write.",
		Middlewares: huma.Middlewares{write, ua},
	}, h.update)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteProvider", Method: http.MethodDelete, Path: "/api/providers/{scope}/{name}", Tags: tags,
		DefaultStatus: http.StatusNoContent, Errors: append(errs, http.StatusConflict),
		Summary: "Delete a custom provider",
		Description: "Deletes one of the organization's providers with its application credentials and connections → 204. " +
			"409 provider_in_use while an agent declares it; system providers: 403 operation_not_allowed. Requires providers:delete.",
		Middlewares: huma.Middlewares{del, ua},
	}, h.delete)
	httpapi.Register(api, huma.Operation{
		OperationID: "setProviderCredentials", Method: http.MethodPut, Path: "/api/providers/credentials/{scope}/{name}",
		Tags: tags, Errors: errs,
		Summary: "Set the application's admin credentials of a provider",
		Description: "Upserts the current application's credentials of the provider (OAuth client id/secret, consumer " +
			"key/secret or API configuration), merged over the stored ones and validated against the provider's admin " +
			"credential schema, stored encrypted; enabled toggles the provider in the application; invalidateConnections " +
			"marks every connection made with these credentials as needing reconnection → {configured:true}. Requires providers:write.",
		Middlewares: huma.Middlewares{write, ua},
	}, h.setCredentials)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteProviderCredentials", Method: http.MethodDelete, Path: "/api/providers/credentials/{scope}/{name}",
		Tags: tags, Errors: errs,
		Summary: "Delete the application's admin credentials of a provider",
		Description: "Removes the current application's credential row of the provider, which disables it in the application " +
			"and deletes the connections made with it → {configured:false}. Requires providers:delete.",
		Middlewares: huma.Middlewares{del, ua},
	}, h.deleteCredentials)

	appBase := "/api/applications/{applicationId}/providers"
	httpapi.Register(api, huma.Operation{
		OperationID: "listApplicationProviders", Method: http.MethodGet, Path: appBase, Tags: appTags, Errors: errs,
		Summary: "List the providers of an application",
		Description: "Providers with a credential row in the application: {providerId, hasAppCredentials, appEnabled}. An API " +
			"key only reaches its own application (403); another organization's application is 404.",
	}, h.appList)
	httpapi.Register(api, huma.Operation{
		OperationID: "setApplicationProviderCredentials", Method: http.MethodPut, Path: appBase + "/{scope}/{name}/credentials",
		Tags: appTags, Errors: errs,
		Summary:     "Set an application's admin credentials of a provider",
		Description: "As PUT /api/providers/credentials/{scope}/{name} for the named application → {configured:true}. Requires providers:write.",
		Middlewares: huma.Middlewares{write, ua},
	}, h.appSetCredentials)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteApplicationProviderCredentials", Method: http.MethodDelete, Path: appBase + "/{scope}/{name}/credentials",
		Tags: appTags, Errors: errs, DefaultStatus: http.StatusNoContent,
		Summary:     "Delete an application's admin credentials of a provider",
		Description: "As DELETE /api/providers/credentials/{scope}/{name} for the named application → 204. Requires providers:write.",
		Middlewares: huma.Middlewares{write, ua},
	}, h.appDeleteCredentials)
}

// ProviderPath addresses one provider.
type ProviderPath struct {
	Scope string `path:"scope" doc:"@scope of the provider id"`
	Name  string `path:"name" doc:"Name of the provider"`
}

// ID is the provider id "@scope/name".
func (p ProviderPath) ID() string { return p.Scope + "/" + p.Name }

// ProviderListBody is the list envelope of GET /api/providers plus the callback URL.
type ProviderListBody struct {
	Object      string              `json:"object" enum:"list"`
	Data        []prov.ProviderView `json:"data"`
	HasMore     bool                `json:"hasMore"`
	CallbackURL string              `json:"callbackUrl" doc:"<APP_URL>/api/connections/callback"`
}

type listOutput struct{ Body ProviderListBody }

func (h handlers) list(ctx context.Context, _ *struct{}) (*listOutput, error) {
	res, err := h.Providers.List(ctx, Actor(ctx))
	if err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &listOutput{Body: ProviderListBody{Object: "list", Data: res.Providers, CallbackURL: res.CallbackURL}}, nil
}

// ProviderBody is the flat custom provider body (PACKAGES.md §4.3).
type ProviderBody struct {
	ID          string `json:"id,omitempty" maxLength:"214" doc:"@<orgSlug>/<name>; required on create, must match the path on update"`
	DisplayName string `json:"displayName" minLength:"1" maxLength:"200"`
	Version     string `json:"version,omitempty" doc:"Semver version (default 1.0.0)"`
	Description string `json:"description,omitempty"`
	Author      string `json:"author,omitempty"`
	AuthMode    string `json:"authMode" enum:"oauth2,oauth1,api_key,basic,custom"`

	ClientID     string `json:"clientId,omitempty" doc:"OAuth client id (OAuth 1.0a: consumer key) of the current application; stored encrypted"`
	ClientSecret string `json:"clientSecret,omitempty" doc:"OAuth client secret (OAuth 1.0a: consumer secret); stored encrypted"`

	AuthorizationURL    string            `json:"authorizationUrl,omitempty" doc:"OAuth 2 authorize URL, or the OAuth 1.0a user authorization URL"`
	TokenURL            string            `json:"tokenUrl,omitempty"`
	RefreshURL          string            `json:"refreshUrl,omitempty" doc:"Default tokenUrl"`
	DefaultScopes       []string          `json:"defaultScopes,omitempty"`
	ScopeSeparator      *string           `json:"scopeSeparator,omitempty" doc:"Default \" \""`
	PKCEEnabled         *bool             `json:"pkceEnabled,omitempty" doc:"S256 PKCE (default true)"`
	TokenAuthMethod     string            `json:"tokenAuthMethod,omitempty" enum:"client_secret_post,client_secret_basic"`
	TokenContentType    string            `json:"tokenContentType,omitempty" enum:"application/x-www-form-urlencoded,application/json"`
	AuthorizationParams map[string]string `json:"authorizationParams,omitempty"`
	TokenParams         map[string]string `json:"tokenParams,omitempty"`
	RequestTokenURL     string            `json:"requestTokenUrl,omitempty" doc:"OAuth 1.0a"`
	AccessTokenURL      string            `json:"accessTokenUrl,omitempty" doc:"OAuth 1.0a"`

	CredentialSchema       map[string]any            `json:"credentialSchema,omitempty" doc:"JSON Schema of the fields users supply (api_key, basic, custom)"`
	CredentialFieldName    string                    `json:"credentialFieldName,omitempty"`
	CredentialHeaderName   string                    `json:"credentialHeaderName,omitempty"`
	CredentialHeaderPrefix string                    `json:"credentialHeaderPrefix,omitempty"`
	CredentialTransform    *afps.CredentialTransform `json:"credentialTransform,omitempty"`
	IconURL                string                    `json:"iconUrl,omitempty"`
	Categories             []string                  `json:"categories,omitempty"`
	DocsURL                string                    `json:"docsUrl,omitempty"`
	SetupGuide             *afps.SetupGuide          `json:"setupGuide,omitempty"`
	AuthorizedURIs         []string                  `json:"authorizedUris,omitempty"`
	AllowAllURIs           *bool                     `json:"allowAllUris,omitempty"`
	AvailableScopes        []afps.Scope              `json:"availableScopes,omitempty"`
	AdminCredentialSchema  map[string]any            `json:"adminCredentialSchema,omitempty" doc:"JSON Schema of the admin credentials (default per auth mode)"`
}

func rawSchema(m map[string]any) json.RawMessage {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	return b
}

func (b ProviderBody) input() prov.CustomProviderInput {
	return prov.CustomProviderInput{ID: b.ID, DisplayName: b.DisplayName, Version: b.Version, Description: b.Description,
		Author: b.Author, AuthMode: b.AuthMode, ClientID: b.ClientID, ClientSecret: b.ClientSecret,
		AuthorizationURL: b.AuthorizationURL, TokenURL: b.TokenURL, RefreshURL: b.RefreshURL, DefaultScopes: b.DefaultScopes,
		ScopeSeparator: b.ScopeSeparator, PKCEEnabled: b.PKCEEnabled, TokenAuthMethod: b.TokenAuthMethod,
		TokenContentType: b.TokenContentType, AuthorizationParams: b.AuthorizationParams, TokenParams: b.TokenParams,
		RequestTokenURL: b.RequestTokenURL, AccessTokenURL: b.AccessTokenURL, CredentialSchema: rawSchema(b.CredentialSchema),
		CredentialFieldName: b.CredentialFieldName, CredentialHeaderName: b.CredentialHeaderName,
		CredentialHeaderPrefix: b.CredentialHeaderPrefix, CredentialTransform: b.CredentialTransform, IconURL: b.IconURL,
		Categories: b.Categories, DocsURL: b.DocsURL, SetupGuide: b.SetupGuide, AuthorizedURIs: b.AuthorizedURIs,
		AllowAllURIs: b.AllowAllURIs, AvailableScopes: b.AvailableScopes, AdminCredentialSchema: rawSchema(b.AdminCredentialSchema)}
}

type createInput struct {
	Body ProviderBody
}

// IDBody is {id}.
type IDBody struct {
	ID string `json:"id" doc:"Provider id"`
}

type idOutput struct{ Body IDBody }

func (h handlers) create(ctx context.Context, in *createInput) (*idOutput, error) {
	if in.Body.ID == "" {
		return nil, httpapi.BadRequest("validation_failed", "id: is required").
			WithErrors(httpapi.FieldError{Field: "id", Code: "required", Message: "is required"})
	}
	id, err := h.Providers.Create(ctx, Actor(ctx), in.Body.input())
	if err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &idOutput{Body: IDBody{ID: id}}, nil
}

type updateInput struct {
	ProviderPath
	Body ProviderBody
}

func (h handlers) update(ctx context.Context, in *updateInput) (*idOutput, error) {
	if err := h.Providers.Update(ctx, Actor(ctx), in.ID(), in.Body.input()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &idOutput{Body: IDBody{ID: in.ID()}}, nil
}

func (h handlers) delete(ctx context.Context, in *ProviderPath) (*struct{}, error) {
	if err := h.Providers.Delete(ctx, Actor(ctx), in.ID()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return nil, nil
}

// CredentialsBody is the body of the admin credential routes.
type CredentialsBody struct {
	Credentials           map[string]any `json:"credentials,omitempty" doc:"Admin credential fields (strings; merged over the stored ones)"`
	Enabled               *bool          `json:"enabled,omitempty" doc:"Enable or disable the provider in the application"`
	InvalidateConnections bool           `json:"invalidateConnections,omitempty" doc:"Mark existing connections as needing reconnection"`
}

func (b CredentialsBody) input() prov.AppCredentialsInput {
	return prov.AppCredentialsInput{Credentials: b.Credentials, Enabled: b.Enabled, InvalidateConnections: b.InvalidateConnections}
}

type credentialsInput struct {
	ProviderPath
	Body CredentialsBody
}

// ConfiguredBody is {configured}.
type ConfiguredBody struct {
	Configured bool `json:"configured"`
}

type configuredOutput struct{ Body ConfiguredBody }

func (h handlers) setCredentials(ctx context.Context, in *credentialsInput) (*configuredOutput, error) {
	a := Actor(ctx)
	if err := h.Providers.SetAppCredentials(ctx, a, a.AppID, in.ID(), in.Body.input()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &configuredOutput{Body: ConfiguredBody{Configured: true}}, nil
}

func (h handlers) deleteCredentials(ctx context.Context, in *ProviderPath) (*configuredOutput, error) {
	a := Actor(ctx)
	if err := h.Providers.DeleteAppCredentials(ctx, a, a.AppID, in.ID()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &configuredOutput{Body: ConfiguredBody{Configured: false}}, nil
}

// AppPath is the {applicationId} path parameter.
type AppPath struct {
	ApplicationID string `path:"applicationId" doc:"Application id (app_<uuid>)"`
}

type appListOutput struct {
	Body httpapi.List[prov.AppProvider]
}

func (h handlers) appList(ctx context.Context, in *AppPath) (*appListOutput, error) {
	rows, err := h.Providers.AppProviders(ctx, Actor(ctx), in.ApplicationID)
	if err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &appListOutput{Body: httpapi.NewList(rows, false)}, nil
}

type appCredentialsInput struct {
	AppPath
	ProviderPath
	Body CredentialsBody
}

func (h handlers) appSetCredentials(ctx context.Context, in *appCredentialsInput) (*configuredOutput, error) {
	if err := h.Providers.SetAppCredentials(ctx, Actor(ctx), in.ApplicationID, in.ID(), in.Body.input()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return &configuredOutput{Body: ConfiguredBody{Configured: true}}, nil
}

type appItemInput struct {
	AppPath
	ProviderPath
}

func (h handlers) appDeleteCredentials(ctx context.Context, in *appItemInput) (*struct{}, error) {
	if err := h.Providers.DeleteAppCredentials(ctx, Actor(ctx), in.ApplicationID, in.ID()); err != nil {
		return nil, Problem(ctx, h.Logger, err)
	}
	return nil, nil
}
