package profiles

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
)

var profileTags = []string{"Connection profiles"}

// Deps are what the routes of this package need.
type Deps struct {
	Profiles    providers.Profiles
	AppProfiles providers.AppProfiles
	Limiter     ratelimit.Limiter
}

type handlers struct{ Deps }

// Register adds /api/connection-profiles and /api/app-profiles.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}
	ua := apppackages.WithUserAgent
	actorDoc := " The owner is the caller: the impersonated end-user (Appstrate-User with an API key), else the user " +
		"(an API key's creator)."

	httpapi.Register(api, huma.Operation{
		OperationID: "listConnectionProfiles", Method: http.MethodGet, Path: "/api/connection-profiles", Tags: profileTags,
		Summary: "List your connection profiles", Errors: errs,
		Description: "Your connection profiles, the Default one first (a user's Default profile is created on the first " +
			"call), each with connectionCount = the connections stored on it in the current organization." + actorDoc,
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "createConnectionProfile", Method: http.MethodPost, Path: "/api/connection-profiles", Tags: profileTags,
		Summary: "Create a connection profile", DefaultStatus: http.StatusCreated, Errors: append(errs, http.StatusTooManyRequests),
		Description: "Creates a named set of connections → 201 {profile}. Rate limit 10/min." + actorDoc,
		Middlewares: huma.Middlewares{httpapi.RateLimit(d.Limiter, 10, httpapi.ByCaller), ua},
	}, h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateConnectionProfile", Method: http.MethodPut, Path: "/api/connection-profiles/{id}", Tags: profileTags,
		Summary: "Rename a connection profile", Errors: append(errs, http.StatusNotFound),
		Description: "Renames one of your profiles (the Default one included) → {ok:true}; another owner's profile is 404.",
		Middlewares: huma.Middlewares{ua},
	}, h.rename)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteConnectionProfile", Method: http.MethodDelete, Path: "/api/connection-profiles/{id}", Tags: profileTags,
		Summary: "Delete a connection profile", Errors: append(errs, http.StatusNotFound),
		Description: "Deletes one of your profiles with its connections, the bindings and overrides naming it → {ok:true}. " +
			"The Default profile cannot be deleted: 400 invalid_request. Another owner's profile is 404.",
		Middlewares: huma.Middlewares{ua},
	}, h.delete)

	registerAppProfiles(api, h)
}

type listOutput struct {
	Body httpapi.List[providers.Profile]
}

type nameBody struct {
	Name string `json:"name" minLength:"1" maxLength:"100" doc:"1 to 100 characters (trimmed)"`
}

type createInput struct{ Body nameBody }

type createOutput struct {
	Body struct {
		Profile *providers.Profile `json:"profile"`
	}
}

// IDParam addresses a profile by id.
type IDParam struct {
	ID string `path:"id" doc:"Connection profile id (UUID)"`
}

type renameInput struct {
	IDParam
	Body nameBody
}

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func ok() *okOutput {
	out := &okOutput{}
	out.Body.OK = true
	return out
}

// caller returns the principal, the actor of profiles and the audit template of the request.
func caller(ctx context.Context) (*auth.Principal, providers.Actor, audit.Event) {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ev := apppackages.Caller(ctx).Audit
	ev.OrgID, ev.ApplicationID = p.OrgID, p.ApplicationID
	if p.EndUserID != "" {
		ev.ActorType, ev.ActorID = audit.ActorEndUser, p.EndUserID
	}
	return p, providers.ActorOf(p), ev
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*listOutput, error) {
	p, actor, _ := caller(ctx)
	items, err := h.Profiles.List(ctx, p.OrgID, actor)
	if err != nil {
		return nil, err
	}
	return &listOutput{Body: httpapi.NewList(items, false)}, nil
}

func (h handlers) create(ctx context.Context, in *createInput) (*createOutput, error) {
	_, actor, ev := caller(ctx)
	prof, err := h.Profiles.Create(ctx, actor, in.Body.Name, ev)
	if err != nil {
		return nil, Problem(err)
	}
	out := &createOutput{}
	out.Body.Profile = prof
	return out, nil
}

func (h handlers) rename(ctx context.Context, in *renameInput) (*okOutput, error) {
	_, actor, ev := caller(ctx)
	if err := h.Profiles.Rename(ctx, actor, in.ID, in.Body.Name, ev); err != nil {
		return nil, Problem(err)
	}
	return ok(), nil
}

func (h handlers) delete(ctx context.Context, in *IDParam) (*okOutput, error) {
	_, actor, ev := caller(ctx)
	if err := h.Profiles.Delete(ctx, actor, in.ID, ev); err != nil {
		return nil, Problem(err)
	}
	return ok(), nil
}

// Problem maps the profile services' errors to problem+json; anything else is returned as is (500).
func Problem(err error) error {
	switch {
	case errors.Is(err, providers.ErrProfileNotFound):
		return httpapi.NotFound("Connection profile not found")
	case errors.Is(err, providers.ErrDefaultProfile):
		return httpapi.BadRequest("invalid_request", "The default connection profile cannot be deleted")
	case errors.Is(err, providers.ErrProfileName):
		return httpapi.BadRequest("validation_failed", "name: must be 1 to 100 characters").
			WithErrors(httpapi.FieldError{Field: "name", Code: "invalid_value", Message: "must be 1 to 100 characters"})
	case errors.Is(err, providers.ErrBindingNotFound):
		return httpapi.NotFound("Binding not found")
	case errors.Is(err, providers.ErrBindingNotYours):
		return httpapi.Forbidden("This binding was made by another member: app-profiles:write is required to change it")
	case errors.Is(err, providers.ErrBindNoConnection):
		return httpapi.BadRequest("dependency_not_satisfied",
			"The source profile has no connection for this provider in this application: connect it first")
	case errors.Is(err, providers.ErrBindNeedsReconnection):
		return httpapi.BadRequest("needs_reconnection", "The source profile's connection for this provider must be reconnected first")
	case errors.Is(err, providers.ErrUnknownAgent):
		return httpapi.NewProblem(http.StatusNotFound, "agent_not_found", "Agent not found")
	case errors.Is(err, providers.ErrProviderNotDeclared):
		return httpapi.BadRequest("invalid_request", "The agent does not declare this provider").WithParam("providerId")
	}
	return err
}
