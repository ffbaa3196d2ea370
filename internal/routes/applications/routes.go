package applications

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/tenancy"
)

const tag = "Applications"

// Register adds the application routes.
func Register(api huma.API, svc *tenancy.Applications) {
	h := handlers{svc: svc}
	op := func(id, method, path, summary, desc string, mw huma.Middlewares, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{tag}, Errors: append([]int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}, errs...),
			Middlewares: append(mw, captureUserAgent)}
	}
	httpapi.Register(api, op("listApplications", http.MethodGet, "/api/applications", "List applications",
		"Applications of the organization, the default one first. An API key sees only its own application.", nil), h.list)
	create := op("createApplication", http.MethodPost, "/api/applications", "Create an application",
		"Requires applications:write. Not available to API keys.",
		huma.Middlewares{httpapi.DenyAPIKey, httpapi.Require("applications:write")})
	create.DefaultStatus = http.StatusCreated
	httpapi.Register(api, create, h.create)
	httpapi.Register(api, op("getApplication", http.MethodGet, "/api/applications/{id}", "Get an application",
		"An API key may only read its own application.", nil, http.StatusNotFound), h.get)
	httpapi.Register(api, op("updateApplication", http.MethodPatch, "/api/applications/{id}", "Update an application",
		"Requires applications:write. Settings, when given, replace the stored ones.",
		huma.Middlewares{httpapi.Require("applications:write")}, http.StatusNotFound), h.update)
	del := op("deleteApplication", http.MethodDelete, "/api/applications/{id}", "Delete an application",
		"Requires applications:delete. The default application cannot be deleted. Removes everything the application "+
			"owns (end-users, API keys, profiles, installs...).",
		huma.Middlewares{httpapi.Require("applications:delete")}, http.StatusNotFound)
	del.DefaultStatus = http.StatusNoContent
	httpapi.Register(api, del, h.delete)
}

type handlers struct{ svc *tenancy.Applications }

type applicationListOutput struct {
	Body httpapi.List[tenancy.Application]
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*applicationListOutput, error) {
	apps, err := h.svc.List(ctx, callerFrom(ctx))
	if err != nil {
		return nil, problem(err)
	}
	return &applicationListOutput{Body: httpapi.NewList(apps, false)}, nil
}

// ApplicationSettingsInput is the settings object accepted on create and update.
type ApplicationSettingsInput struct {
	AllowedRedirectDomains []string `json:"allowedRedirectDomains,omitempty" maxItems:"20" doc:"At most 20 domains"`
}

func (s *ApplicationSettingsInput) toSettings() *tenancy.ApplicationSettings {
	if s == nil {
		return nil
	}
	return &tenancy.ApplicationSettings{AllowedRedirectDomains: s.AllowedRedirectDomains}
}

type createApplicationInput struct {
	Body struct {
		Name     string                    `json:"name" minLength:"1" maxLength:"100"`
		Settings *ApplicationSettingsInput `json:"settings,omitempty"`
	}
}

type applicationOutput struct {
	Body *tenancy.Application
}

func (h handlers) create(ctx context.Context, in *createApplicationInput) (*applicationOutput, error) {
	app, err := h.svc.Create(ctx, callerFrom(ctx), tenancy.CreateApplicationInput{Name: in.Body.Name, Settings: in.Body.Settings.toSettings()})
	if err != nil {
		return nil, problem(err)
	}
	return &applicationOutput{Body: app}, nil
}

// ApplicationParams are the path parameters of /api/applications/{id}.
type ApplicationParams struct {
	ID string `path:"id" doc:"Application id (app_<uuid>)"`
}

func (h handlers) get(ctx context.Context, in *ApplicationParams) (*applicationOutput, error) {
	app, err := h.svc.Get(ctx, callerFrom(ctx), in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &applicationOutput{Body: app}, nil
}

type updateApplicationInput struct {
	ApplicationParams
	Body struct {
		Name     *string                   `json:"name,omitempty" minLength:"1" maxLength:"100"`
		Settings *ApplicationSettingsInput `json:"settings,omitempty"`
	}
}

func (h handlers) update(ctx context.Context, in *updateApplicationInput) (*applicationOutput, error) {
	app, err := h.svc.Update(ctx, callerFrom(ctx), in.ID, tenancy.UpdateApplicationInput{Name: in.Body.Name, Settings: in.Body.Settings.toSettings()})
	if err != nil {
		return nil, problem(err)
	}
	return &applicationOutput{Body: app}, nil
}

func (h handlers) delete(ctx context.Context, in *ApplicationParams) (*struct{}, error) {
	if err := h.svc.Delete(ctx, callerFrom(ctx), in.ID); err != nil {
		return nil, problem(err)
	}
	return nil, nil
}

// problem maps the tenancy service errors to problem+json; anything else is a 500.
func problem(err error) error {
	detail := tenancy.RuleDetail(err)
	switch {
	case errors.Is(err, tenancy.ErrForbidden):
		return httpapi.Forbidden(detail)
	case errors.Is(err, tenancy.ErrNotFound):
		return httpapi.NotFound(detail)
	case errors.Is(err, tenancy.ErrDefaultApplication):
		return httpapi.BadRequest("invalid_request", detail)
	case errors.Is(err, tenancy.ErrInvalid):
		field, msg, ok := strings.Cut(detail, ": ")
		if !ok {
			field, msg = "body", detail
		}
		return httpapi.BadRequest("validation_failed", detail).
			WithErrors(httpapi.FieldError{Field: field, Code: "invalid_value", Message: msg})
	}
	return err
}

type userAgentKey struct{}

// captureUserAgent keeps the User-Agent for the audit trail.
func captureUserAgent(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, userAgentKey{}, ctx.Header("User-Agent")))
}

// callerFrom describes the authenticated caller of the request to the tenancy service.
func callerFrom(ctx context.Context) tenancy.Caller {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return tenancy.Caller{
		UserID: p.UserID, Email: p.Email, Name: p.Name,
		APIKey: p.IsAPIKey(), APIKeyID: p.APIKeyID, OrgID: p.OrgID, AppID: p.ApplicationID, EndUserID: p.EndUserID, Role: p.Role,
		IP: httpapi.ClientIPFrom(ctx), UserAgent: ua, RequestID: httpapi.RequestIDFrom(ctx),
	}
}
