package profiles

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
)

var appProfileTags = []string{"App profiles"}

// registerAppProfiles adds the 12 /api/app-profiles routes (Ctx A; app-profiles:* permissions).
func registerAppProfiles(api huma.API, h handlers) {
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	read := httpapi.Require("app-profiles:read")
	ua := apppackages.WithUserAgent
	base := "/api/app-profiles"
	item := base + "/{id}"
	op := func(id, method, path, summary, doc string, mw ...func(huma.Context, func(huma.Context))) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Tags: appProfileTags, Summary: summary,
			Description: doc, Errors: errs, Middlewares: mw}
	}

	httpapi.Register(api, op("listAppProfiles", http.MethodGet, base, "List application profiles",
		"Connection profiles owned by the current application, by creation, with connectionCount (connections stored "+
			"directly on the profile with this application's credentials), bindingCount and agentCount. Requires "+
			"app-profiles:read.", read), h.listApp)
	create := op("createAppProfile", http.MethodPost, base, "Create an application profile",
		"→ 201 {profile}. Requires app-profiles:write. Rate limit 10/min.",
		httpapi.Require("app-profiles:write"), httpapi.RateLimit(h.Limiter, 10, httpapi.ByCaller), ua)
	create.DefaultStatus, create.Errors = http.StatusCreated, append(errs, http.StatusTooManyRequests)
	httpapi.Register(api, create, h.createApp)
	httpapi.Register(api, op("updateAppProfile", http.MethodPut, item, "Rename an application profile",
		"→ {ok:true}. A profile of another application is 404. Requires app-profiles:write.",
		httpapi.Require("app-profiles:write"), ua), h.renameApp)
	httpapi.Register(api, op("deleteAppProfile", http.MethodDelete, item, "Delete an application profile",
		"Deletes the profile with its connections and bindings → {ok:true}; agents using it fall back to no application "+
			"profile. Requires app-profiles:delete.", httpapi.Require("app-profiles:delete"), ua), h.deleteApp)
	httpapi.Register(api, op("listAppProfileAgents", http.MethodGet, item+"/agents", "Agents using an application profile",
		"Agents of the current application whose installation uses the profile (application_packages.app_profile_id): "+
			"list of {id, displayName, enabled}. Requires app-profiles:read.", read), h.agents)
	httpapi.Register(api, op("listAppProfileBindings", http.MethodGet, item+"/bindings", "Bindings of an application profile",
		"Each provider of the profile delegated to a member's own profile: list of {appProfileId, appProfileName, "+
			"providerId, sourceProfileId, sourceProfileName, boundByUserId, boundByName, status (connected | "+
			"needs_reconnection | not_connected: the source profile's connection in this application), connectionId, "+
			"createdAt, updatedAt}. Requires app-profiles:read.", read), h.bindings)
	bind := op("bindAppProfileProvider", http.MethodPost, item+"/bind", "Bind a provider to one of your connections",
		"Runs of agents using this application profile will use your connection for providerId. sourceProfileId (default: "+
			"your Default profile) must be one of your own profiles (else 404) and hold an active connection for the "+
			"provider made with this application's credentials (else 400 dependency_not_satisfied, or needs_reconnection). "+
			"Replacing another member's binding requires app-profiles:write (403). → {bound:true}. Requires "+
			"app-profiles:bind. Rate limit 10/min.",
		httpapi.Require("app-profiles:bind"), httpapi.RateLimit(h.Limiter, 10, httpapi.ByCaller), ua)
	bind.Errors = append(errs, http.StatusTooManyRequests)
	httpapi.Register(api, bind, h.bind)
	httpapi.Register(api, op("unbindAppProfileProvider", http.MethodDelete, item+"/bind/{providerScope}/{providerName}",
		"Remove a provider binding", "→ {ok:true}; 404 when the provider is not bound. Removing another member's binding "+
			"requires app-profiles:write (403). Requires app-profiles:bind.", httpapi.Require("app-profiles:bind"), ua), h.unbind)
	httpapi.Register(api, op("listAppProfileConnections", http.MethodGet, item+"/connections", "Connections of a profile",
		"Read-only view (no secrets) of the connections made with this application's credentials on a profile that is "+
			"yours, an application profile of this application, or another member's profile: list of {connectionId, "+
			"providerId, profileId, status (connected | needs_reconnection), scopesGranted, connectedAt, updatedAt, "+
			"expiresAt}. Any other profile is 404. Requires app-profiles:read.", read), h.profileConnections)
	httpapi.Register(api, op("listMyConnections", http.MethodGet, base+"/connections", "List your connections",
		"Every connection stored on your own profiles, across organizations and applications, grouped by provider then "+
			"organization: list of {providerId, orgs:[{orgId, orgName, connections:[{connectionId, providerId, profileId, "+
			"profileName, applicationId, applicationName, status, scopesGranted, connectedAt, updatedAt, expiresAt}]}]}. "+
			"Requires app-profiles:read.", read), h.myConnections)
	httpapi.Register(api, op("deleteMyConnections", http.MethodDelete, base+"/connections", "Delete all your connections in this application",
		"Deletes every connection on your own profiles made with this application's credentials → {deleted: n}. "+
			"Requires connections:disconnect.", httpapi.Require("connections:disconnect"), ua), h.deleteMyConnections)
	httpapi.Register(api, op("listMyBindings", http.MethodGet, base+"/my-bindings", "List your bindings",
		"Bindings of this application's profiles that you made or that point at one of your profiles (same items as "+
			"/api/app-profiles/{id}/bindings). Requires app-profiles:read.", read), h.myBindings)
}

type appListOutput struct {
	Body httpapi.List[providers.AppProfile]
}

type appCreateOutput struct {
	Body struct {
		Profile *providers.AppProfile `json:"profile"`
	}
}

func (h handlers) listApp(ctx context.Context, _ *struct{}) (*appListOutput, error) {
	p, _, _ := caller(ctx)
	items, err := h.AppProfiles.List(ctx, p.ApplicationID)
	if err != nil {
		return nil, err
	}
	return &appListOutput{Body: httpapi.NewList(items, false)}, nil
}

func (h handlers) createApp(ctx context.Context, in *createInput) (*appCreateOutput, error) {
	p, _, ev := caller(ctx)
	prof, err := h.AppProfiles.Create(ctx, p.ApplicationID, in.Body.Name, ev)
	if err != nil {
		return nil, Problem(err)
	}
	out := &appCreateOutput{}
	out.Body.Profile = prof
	return out, nil
}

func (h handlers) renameApp(ctx context.Context, in *renameInput) (*okOutput, error) {
	p, _, ev := caller(ctx)
	if err := h.AppProfiles.Rename(ctx, p.ApplicationID, in.ID, in.Body.Name, ev); err != nil {
		return nil, Problem(err)
	}
	return ok(), nil
}

func (h handlers) deleteApp(ctx context.Context, in *IDParam) (*okOutput, error) {
	p, _, ev := caller(ctx)
	if err := h.AppProfiles.Delete(ctx, p.ApplicationID, in.ID, ev); err != nil {
		return nil, Problem(err)
	}
	return ok(), nil
}

type agentsOutput struct {
	Body httpapi.List[providers.ProfileAgent]
}

func (h handlers) agents(ctx context.Context, in *IDParam) (*agentsOutput, error) {
	p, _, _ := caller(ctx)
	items, err := h.AppProfiles.Agents(ctx, p.ApplicationID, in.ID)
	if err != nil {
		return nil, Problem(err)
	}
	return &agentsOutput{Body: httpapi.NewList(items, false)}, nil
}

type bindingsOutput struct {
	Body httpapi.List[providers.Binding]
}

func (h handlers) bindings(ctx context.Context, in *IDParam) (*bindingsOutput, error) {
	p, _, _ := caller(ctx)
	items, err := h.AppProfiles.Bindings(ctx, p.ApplicationID, in.ID)
	if err != nil {
		return nil, Problem(err)
	}
	return &bindingsOutput{Body: httpapi.NewList(items, false)}, nil
}

func (h handlers) myBindings(ctx context.Context, _ *struct{}) (*bindingsOutput, error) {
	p, _, _ := caller(ctx)
	items, err := h.AppProfiles.MyBindings(ctx, p.ApplicationID, p.UserID)
	if err != nil {
		return nil, err
	}
	return &bindingsOutput{Body: httpapi.NewList(items, false)}, nil
}

type bindInput struct {
	IDParam
	Body struct {
		ProviderID      string `json:"providerId" pattern:"^@[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$" doc:"Provider id (@scope/name)"`
		SourceProfileID string `json:"sourceProfileId,omitempty" required:"false" doc:"One of your own connection profiles; default: your Default profile"`
	}
}

type boundOutput struct {
	Body struct {
		Bound bool `json:"bound"`
	}
}

func (h handlers) bind(ctx context.Context, in *bindInput) (*boundOutput, error) {
	p, _, ev := caller(ctx)
	err := h.AppProfiles.Bind(ctx, providers.BindRequest{OrgID: p.OrgID, AppID: p.ApplicationID, ProfileID: in.ID,
		ProviderID: in.Body.ProviderID, SourceProfileID: in.Body.SourceProfileID, UserID: p.UserID,
		CanOverwrite: p.Can("app-profiles:write")}, ev)
	if err != nil {
		return nil, Problem(err)
	}
	out := &boundOutput{}
	out.Body.Bound = true
	return out, nil
}

type unbindInput struct {
	IDParam
	ProviderScope string `path:"providerScope" doc:"@scope of the provider id"`
	ProviderName  string `path:"providerName" doc:"Name of the provider"`
}

func (h handlers) unbind(ctx context.Context, in *unbindInput) (*okOutput, error) {
	p, _, ev := caller(ctx)
	err := h.AppProfiles.Unbind(ctx, p.ApplicationID, in.ID, in.ProviderScope+"/"+in.ProviderName, p.UserID,
		p.Can("app-profiles:write"), ev)
	if err != nil {
		return nil, Problem(err)
	}
	return ok(), nil
}

type connectionsOutput struct {
	Body httpapi.List[providers.ProfileConnection]
}

func (h handlers) profileConnections(ctx context.Context, in *IDParam) (*connectionsOutput, error) {
	p, _, _ := caller(ctx)
	items, err := h.AppProfiles.ProfileConnections(ctx, p.OrgID, p.ApplicationID, p.UserID, in.ID)
	if err != nil {
		return nil, Problem(err)
	}
	return &connectionsOutput{Body: httpapi.NewList(items, false)}, nil
}

type myConnectionsOutput struct {
	Body httpapi.List[providers.MyProviderConnections]
}

func (h handlers) myConnections(ctx context.Context, _ *struct{}) (*myConnectionsOutput, error) {
	_, actor, _ := caller(ctx)
	items, err := h.AppProfiles.MyConnections(ctx, actor)
	if err != nil {
		return nil, err
	}
	return &myConnectionsOutput{Body: httpapi.NewList(items, false)}, nil
}

type deletedOutput struct {
	Body struct {
		Deleted int `json:"deleted"`
	}
}

func (h handlers) deleteMyConnections(ctx context.Context, _ *struct{}) (*deletedOutput, error) {
	p, actor, ev := caller(ctx)
	n, err := h.AppProfiles.DeleteMyConnections(ctx, actor, p.ApplicationID, ev)
	if err != nil {
		return nil, err
	}
	out := &deletedOutput{}
	out.Body.Deleted = n
	return out, nil
}
