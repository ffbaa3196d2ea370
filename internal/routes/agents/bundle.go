package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	pkgroutes "github.com/appstrate/appstrate-go/internal/routes/packages"
)

// bundleRate is the per-caller limit of bundle exports per minute (API.md §4.6, RL30).
const bundleRate = 30

// BundleDeps is what the bundle export needs.
type BundleDeps struct {
	Registry *packages.Registry
	Limiter  ratelimit.Limiter
	Logger   *slog.Logger
}

// RegisterBundle adds GET /api/agents/{scope}/{name}/bundle (API.md §5 item 22).
func RegisterBundle(api huma.API, d BundleDeps) {
	httpapi.Register(api, huma.Operation{
		OperationID: "getAgentBundle", Method: http.MethodGet, Path: "/api/agents/{scope}/{name}/bundle", Tags: agentTags,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
			http.StatusConflict, http.StatusTooManyRequests},
		Summary: "Download the agent as an .afps-bundle",
		Description: "The agent with its transitive dependencies as a deterministic .afps-bundle ZIP (the same bytes for the " +
			"same content). ?source=draft: the draft, dependencies as a run of the draft uses them (the organization's " +
			"packages at their draft, system packages at their highest version satisfying the range). ?version=<exact|" +
			"dist-tag|range> (or ?source=published): that published version, else the version the application pins, else " +
			"latest, dependencies resolved against the published versions the organization sees. Neither: the pinned or " +
			"latest version, or the draft of an agent never published. Headers: Content-Type application/zip, " +
			"Content-Disposition attachment; filename=\"<@scope>-<name>.afps-bundle.zip\", X-Bundle-Integrity " +
			"sha256-<base64> of the bytes served, X-Bundle-Version <version>|draft. 400 draft_with_version, " +
			"dependency_unresolved; 404 agent_not_found (not an agent the organization sees), agent_not_installed_in_app, " +
			"not_found (no such version); 409 bundle_conflict. Requires agents:read; 30/min.",
		Middlewares: huma.Middlewares{httpapi.RateLimit(d.Limiter, bundleRate, httpapi.ByCaller), httpapi.Require("agents:read")},
		Responses: map[string]*huma.Response{"200": {Description: "The bundle", Content: map[string]*huma.MediaType{
			"application/zip": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
	}, func(ctx context.Context, in *bundleInput) (*bundleOutput, error) {
		b, err := d.Registry.AgentBundle(ctx, registryCaller(ctx), in.id(), packages.BundleQuery{Version: in.Version, Source: in.Source})
		if err != nil {
			var re *packages.RegistryError
			if errors.As(err, &re) {
				return nil, pkgroutes.RegistryProblem(ctx, d.Logger, re)
			}
			return nil, err
		}
		return &bundleOutput{ContentType: "application/zip", Disposition: fmt.Sprintf("attachment; filename=%q", b.Filename),
			Integrity: b.Integrity, Version: b.Version, Body: b.Data}, nil
	})
}

type bundleInput struct {
	AgentParams
	Version string `query:"version" doc:"Exact version, dist-tag or semver range of a published version"`
	Source  string `query:"source" enum:"draft,published" doc:"draft: the draft (not with version); published: a published version"`
}

type bundleOutput struct {
	ContentType string `header:"Content-Type"`
	Disposition string `header:"Content-Disposition"`
	Integrity   string `header:"X-Bundle-Integrity" doc:"sha256-<base64> of the bytes served"`
	Version     string `header:"X-Bundle-Version" doc:"The exported version, or draft"`
	Body        []byte
}

// registryCaller is the registry's view of the request's principal.
func registryCaller(ctx context.Context) packages.Caller {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx), ActorType: audit.ActorUser, ActorID: p.UserID}
	if p.IsAPIKey() {
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	}
	return packages.Caller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, Audit: ev}
}
