// Route ownership: this file belongs to the connection-profiles area (internal/providers); app.go registers
// it with RegisterProviderProfiles.

package agents

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
	"github.com/appstrate/appstrate-go/internal/routes/profiles"
)

// RegisterProviderProfiles adds GET|PUT|DELETE /api/agents/{scope}/{name}/provider-profiles: the caller's
// per-agent provider → connection profile overrides (API.md §4.6).
func RegisterProviderProfiles(api huma.API, svc providers.AgentOverrides) {
	h := overrideHandlers{svc: svc}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	path := "/api/agents/{scope}/{name}/provider-profiles"
	run := httpapi.Require("agents:run")
	actor := " Overrides belong to the caller (the impersonated end-user, else the user) and this agent; they apply to " +
		"runs before the caller's default profile but after the binding of the agent's application profile."
	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentProviderProfiles", Method: http.MethodGet, Path: path, Tags: agentTags, Errors: errs,
		Summary:     "Get your provider profile overrides",
		Description: "{overrides: {<providerId>: <connectionProfileId>}} for the overrides usable in this application." + actor,
	}, h.get)
	httpapi.Register(api, huma.Operation{
		OperationID: "setAgentProviderProfile", Method: http.MethodPut, Path: path, Tags: agentTags, Errors: errs,
		Summary: "Override the profile of a provider",
		Description: "Runs of this agent by you use connectionProfileId for providerId → {ok:true}. The agent must declare " +
			"the provider (400 invalid_request); the profile must be your own or an application profile of this " +
			"application (404). Requires agents:run." + actor,
		Middlewares: huma.Middlewares{run, apppackages.WithUserAgent},
	}, h.set)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteAgentProviderProfile", Method: http.MethodDelete, Path: path, Tags: agentTags, Errors: errs,
		Summary: "Remove a provider profile override",
		Description: "Body {providerId} (or ?providerId=) → {ok:true}, also when there was no override. Requires " +
			"agents:run." + actor,
		Middlewares: huma.Middlewares{run, apppackages.WithUserAgent},
	}, h.delete)
}

type overrideHandlers struct{ svc providers.AgentOverrides }

type overridesOutput struct {
	Body struct {
		Overrides map[string]string `json:"overrides" doc:"providerId → connectionProfileId"`
	}
}

type setOverrideInput struct {
	AgentParams
	Body struct {
		ProviderID          string `json:"providerId" minLength:"1" doc:"A provider the agent declares"`
		ConnectionProfileID string `json:"connectionProfileId" minLength:"1" doc:"Your own profile or an application profile of this application"`
	}
}

type deleteOverrideInput struct {
	AgentParams
	ProviderIDQuery string `query:"providerId" doc:"Alternative to the body"`
	Body            *struct {
		ProviderID string `json:"providerId" minLength:"1"`
	}
}

type okBody struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// overrideCaller returns the organization, application, actor and audit template of the request.
func overrideCaller(ctx context.Context) (orgID, appID string, a providers.Actor, ev audit.Event) {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ev = apppackages.Caller(ctx).Audit
	ev.OrgID, ev.ApplicationID = p.OrgID, p.ApplicationID
	if p.EndUserID != "" {
		ev.ActorType, ev.ActorID = audit.ActorEndUser, p.EndUserID
	}
	return p.OrgID, p.ApplicationID, providers.ActorOf(p), ev
}

func (h overrideHandlers) get(ctx context.Context, in *AgentParams) (*overridesOutput, error) {
	org, app, actor, _ := overrideCaller(ctx)
	m, err := h.svc.List(ctx, org, app, actor, in.id())
	if err != nil {
		return nil, profiles.Problem(err)
	}
	out := &overridesOutput{}
	out.Body.Overrides = m
	return out, nil
}

func (h overrideHandlers) set(ctx context.Context, in *setOverrideInput) (*okBody, error) {
	org, app, actor, ev := overrideCaller(ctx)
	err := h.svc.Set(ctx, org, app, actor, in.id(), providers.AgentOverride{ProviderID: in.Body.ProviderID,
		ConnectionProfileID: in.Body.ConnectionProfileID}, ev)
	if err != nil {
		return nil, profiles.Problem(err)
	}
	out := &okBody{}
	out.Body.OK = true
	return out, nil
}

func (h overrideHandlers) delete(ctx context.Context, in *deleteOverrideInput) (*okBody, error) {
	provider := in.ProviderIDQuery
	if in.Body != nil && in.Body.ProviderID != "" {
		provider = in.Body.ProviderID
	}
	if provider == "" {
		return nil, httpapi.BadRequest("validation_failed", "providerId: required").
			WithErrors(httpapi.FieldError{Field: "providerId", Code: "required", Message: "required"})
	}
	org, app, actor, ev := overrideCaller(ctx)
	if err := h.svc.Delete(ctx, org, app, actor, in.id(), provider, ev); err != nil {
		return nil, profiles.Problem(err)
	}
	out := &okBody{}
	out.Body.OK = true
	return out, nil
}
