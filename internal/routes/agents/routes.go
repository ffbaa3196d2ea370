// Route ownership: this package registers GET /api/agents, the per-application agent settings under
// /api/agents/{scope}/{name}/…, and — ONLY among the /api/packages/<t>/… routes — the agent detail
// GET /api/packages/agents/{scope}/{name} with its GET /api/packages/agents/{id} alias (the rich detail of
// API.md §5 item 8). The registry routes (internal/routes/packages) own every other /api/packages route and
// skip those two when their Deps.AgentDetailElsewhere is set (app.go sets it).

package agents

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
)

var (
	agentTags    = []string{"Agents"}
	packagesTags = []string{"Packages"}
)

// Register adds the agent routes.
func Register(api huma.API, svc *packages.Agents) {
	h := handlers{svc: svc}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	item := "/api/agents/{scope}/{name}"
	configure := httpapi.Require("agents:configure")
	ua := apppackages.WithUserAgent

	httpapi.Register(api, huma.Operation{
		OperationID: "listAgents", Method: http.MethodGet, Path: "/api/agents", Tags: agentTags, Errors: errs,
		Summary:     "List agents",
		Description: "Agents visible in the current application: system agents first, then the agents installed in it.",
	}, h.list)

	detailDoc := "The agent with its dependencies (provider status objects, skill and tool summaries), input/output/config " +
		"wrappers (config.current = the effective config of this application), runs, version facts and, for non-system " +
		"agents, the draft manifest, prompt, lockVersion and updatedAt. 404 unless it is a system agent or installed in the " +
		"current application. Requires agents:read."
	read := huma.Middlewares{httpapi.Require("agents:read")}
	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentPackage", Method: http.MethodGet, Path: "/api/packages/agents/{scope}/{name}", Tags: packagesTags,
		Errors: errs, Summary: "Get an agent", Description: detailDoc, Middlewares: read,
	}, func(ctx context.Context, in *AgentParams) (*detailOutput, error) { return h.detail(ctx, in.id()) })
	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentPackageByID", Method: http.MethodGet, Path: "/api/packages/agents/{id}", Tags: packagesTags,
		Errors: errs, Summary: "Get an agent by URL-encoded id", Description: "Alias of GET /api/packages/agents/{scope}/{name} " +
			"with the id URL-encoded in one segment.", Middlewares: read,
	}, func(ctx context.Context, in *idParams) (*detailOutput, error) { return h.detail(ctx, in.ID) })

	httpapi.Register(api, huma.Operation{
		OperationID: "updateAgentConfig", Method: http.MethodPut, Path: item + "/config", Tags: agentTags,
		Errors: errs, Summary: "Set the agent config",
		Description: "The body is the config object. It is validated against the manifest's config.schema (draft-07 or " +
			"2020-12, formats asserted) after its defaults are filled in, then stored for the current application. " +
			"Failures are 400 validation_failed with fields config.<path>. Requires agents:configure.",
		Middlewares: huma.Middlewares{configure, ua},
	}, h.setConfig)

	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentModel", Method: http.MethodGet, Path: item + "/model", Tags: agentTags, Errors: errs,
		Summary: "Get the agent model override", Description: "null = the organization default model.",
	}, h.model)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateAgentModel", Method: http.MethodPut, Path: item + "/model", Tags: agentTags, Errors: errs,
		Summary: "Set the agent model override", Description: "null restores the organization default. Requires agents:configure.",
		Middlewares: huma.Middlewares{configure, ua},
	}, h.setModel)

	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentProxy", Method: http.MethodGet, Path: item + "/proxy", Tags: agentTags, Errors: errs,
		Summary:     "Get the agent proxy override",
		Description: "proxyId is the override (null = organization default); resolved is the proxy that applies.",
	}, h.proxy)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateAgentProxy", Method: http.MethodPut, Path: item + "/proxy", Tags: agentTags, Errors: errs,
		Summary: "Set the agent proxy override", Description: "null restores the organization default. Requires agents:configure.",
		Middlewares: huma.Middlewares{configure, ua},
	}, h.setProxy)

	httpapi.Register(api, huma.Operation{
		OperationID: "updateAgentAppProfile", Method: http.MethodPut, Path: item + "/app-profile", Tags: agentTags, Errors: errs,
		Summary: "Set the agent app connection profile",
		Description: "An application-level connection profile of the current application (404 otherwise), or null. " +
			"Requires agents:configure.",
		Middlewares: huma.Middlewares{configure, ua},
	}, h.setAppProfile)

	deps := func(kind string) huma.Operation {
		folder := packages.Folder(kind)
		return huma.Operation{
			OperationID: "updateAgent" + map[string]string{packages.TypeSkill: "Skills", packages.TypeTool: "Tools"}[kind],
			Method:      http.MethodPut, Path: item + "/" + folder, Tags: agentTags, Errors: append(errs, http.StatusConflict),
			Summary: "Set the agent " + folder,
			Description: "Rewrites dependencies." + folder + " of the draft with ^<version> of each listed " + kind + " (ids that " +
				"are not visible " + folder + " are dropped). The agent must be owned by the organization (403 for system " +
				"and foreign agents) and have no run in flight (409 agent_in_use). Bumps lockVersion.",
			Middlewares: huma.Middlewares{ua},
		}
	}
	httpapi.Register(api, deps(packages.TypeSkill), func(ctx context.Context, in *skillsInput) (*depsOutput, error) {
		return h.setDeps(ctx, in.id(), packages.TypeSkill, in.Body.SkillIDs)
	})
	httpapi.Register(api, deps(packages.TypeTool), func(ctx context.Context, in *toolsInput) (*depsOutput, error) {
		return h.setDeps(ctx, in.id(), packages.TypeTool, in.Body.ToolIDs)
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentReadiness", Method: http.MethodGet, Path: item + "/readiness", Tags: agentTags, Errors: errs,
		Summary: "Check the agent readiness",
		Description: "Whether every provider the agent declares can be used in the current application; missing lists " +
			"the others with a reason (provider_not_enabled, provider_not_configured, no_connection, needs_reconnection, " +
			"scope_insufficient) and the profile that was searched. Profiles resolve as runs do (app-profile binding, " +
			"per-agent override, then the actor's default: ?connectionProfileId=, else the pinned profile, else Default); " +
			"?providerProfile.<providerId>=<profileId> adds per-provider overrides. A connectionProfileId the caller may " +
			"not use is 404. Requires agents:read.",
		Middlewares: read,
	}, h.readiness)
}

type handlers struct{ svc *packages.Agents }

// AgentParams address an agent by scope and name.
type AgentParams struct {
	Scope string `path:"scope" doc:"@scope of the agent id"`
	Name  string `path:"name" doc:"Name of the agent"`
}

func (p AgentParams) id() string { return p.Scope + "/" + p.Name }

type idParams struct {
	ID string `path:"id" doc:"URL-encoded @scope/name"`
}

type listOutput struct {
	Body httpapi.List[packages.AgentSummary]
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*listOutput, error) {
	agents, err := h.svc.List(ctx, apppackages.Caller(ctx))
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &listOutput{Body: httpapi.NewList(agents, false)}, nil
}

type detailOutput struct {
	Body *packages.AgentDetail
}

func (h handlers) detail(ctx context.Context, id string) (*detailOutput, error) {
	d, err := h.svc.Detail(ctx, apppackages.Caller(ctx), id)
	if errors.Is(err, packages.ErrAgentNotFound) { // a registry route: 404 not_found like the other package types
		return nil, httpapi.NotFound("Package " + id + " not found")
	}
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &detailOutput{Body: d}, nil
}

type configInput struct {
	AgentParams
	Body apppackages.RawObject
}

type configOutput struct {
	Body *packages.ConfigResult
}

func (h handlers) setConfig(ctx context.Context, in *configInput) (*configOutput, error) {
	res, err := h.svc.SetConfig(ctx, apppackages.Caller(ctx), in.id(), in.Body.Raw)
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &configOutput{Body: res}, nil
}

type modelBody struct {
	ModelID *string `json:"modelId" doc:"Model override; null = organization default"`
}

type modelOutput struct{ Body modelBody }

type setModelInput struct {
	AgentParams
	Body struct {
		ModelID apppackages.OptString `json:"modelId" doc:"Model id, or null for the organization default"`
	}
}

func (h handlers) model(ctx context.Context, in *AgentParams) (*modelOutput, error) {
	id, err := h.svc.Model(ctx, apppackages.Caller(ctx), in.id())
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &modelOutput{Body: modelBody{ModelID: id}}, nil
}

func (h handlers) setModel(ctx context.Context, in *setModelInput) (*modelOutput, error) {
	id, err := h.svc.SetModel(ctx, apppackages.Caller(ctx), in.id(), nonEmpty(in.Body.ModelID.Value))
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &modelOutput{Body: modelBody{ModelID: id}}, nil
}

type proxyOutput struct {
	Body struct {
		ProxyID  *string `json:"proxyId" doc:"Proxy override; null = organization default"`
		Resolved *string `json:"resolved" doc:"The proxy that applies to runs of this agent, null = none"`
	}
}

type setProxyInput struct {
	AgentParams
	Body struct {
		ProxyID apppackages.OptString `json:"proxyId" doc:"Proxy id, or null for the organization default"`
	}
}

type successOutput struct {
	Body struct {
		Success bool `json:"success"`
	}
}

func (h handlers) proxy(ctx context.Context, in *AgentParams) (*proxyOutput, error) {
	id, resolved, err := h.svc.Proxy(ctx, apppackages.Caller(ctx), in.id())
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	out := &proxyOutput{}
	out.Body.ProxyID, out.Body.Resolved = id, resolved
	return out, nil
}

func (h handlers) setProxy(ctx context.Context, in *setProxyInput) (*successOutput, error) {
	if err := h.svc.SetProxy(ctx, apppackages.Caller(ctx), in.id(), nonEmpty(in.Body.ProxyID.Value)); err != nil {
		return nil, apppackages.Problem(err)
	}
	out := &successOutput{}
	out.Body.Success = true
	return out, nil
}

type appProfileInput struct {
	AgentParams
	Body struct {
		AppProfileID apppackages.OptString `json:"appProfileId" doc:"Application connection profile id, or null"`
	}
}

type appProfileOutput struct {
	Body struct {
		AppProfileID *string `json:"appProfileId"`
	}
}

func (h handlers) setAppProfile(ctx context.Context, in *appProfileInput) (*appProfileOutput, error) {
	id, err := h.svc.SetAppProfile(ctx, apppackages.Caller(ctx), in.id(), nonEmpty(in.Body.AppProfileID.Value))
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	out := &appProfileOutput{}
	out.Body.AppProfileID = id
	return out, nil
}

type skillsInput struct {
	AgentParams
	Body struct {
		SkillIDs []string `json:"skillIds" maxItems:"50" doc:"Skill package ids (@scope/name)"`
	}
}

type toolsInput struct {
	AgentParams
	Body struct {
		ToolIDs []string `json:"toolIds" maxItems:"50" doc:"Tool package ids (@scope/name)"`
	}
}

type depsOutput struct {
	Body *packages.DependenciesResult
}

func (h handlers) setDeps(ctx context.Context, id, kind string, ids []string) (*depsOutput, error) {
	res, err := h.svc.SetDependencies(ctx, apppackages.Caller(ctx), id, kind, ids)
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &depsOutput{Body: res}, nil
}

type readinessInput struct {
	AgentParams
	ConnectionProfileID string            `query:"connectionProfileId" doc:"Connection profile to check instead of the caller's default"`
	providerProfiles    map[string]string // ?providerProfile.<providerId>=<profileId>
}

// Resolve collects the providerProfile.<providerId> query parameters (names huma cannot declare).
func (in *readinessInput) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	for key, values := range u.Query() {
		if provider, ok := strings.CutPrefix(key, "providerProfile."); ok && provider != "" && len(values) > 0 && values[0] != "" {
			if in.providerProfiles == nil {
				in.providerProfiles = map[string]string{}
			}
			in.providerProfiles[provider] = values[0]
		}
	}
	return nil
}

type readinessOutput struct {
	Body *packages.Readiness
}

func (h handlers) readiness(ctx context.Context, in *readinessInput) (*readinessOutput, error) {
	q := packages.ReadinessQuery{ConnectionProfileID: in.ConnectionProfileID, ProviderProfiles: in.providerProfiles}
	if p, ok := auth.PrincipalFrom(ctx); ok {
		q.EndUserID = p.EndUserID
	}
	r, err := h.svc.Readiness(ctx, apppackages.Caller(ctx), in.id(), q)
	if err != nil {
		return nil, apppackages.Problem(err)
	}
	return &readinessOutput{Body: r}, nil
}

// nonEmpty treats "" like null.
func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}
