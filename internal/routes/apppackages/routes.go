package apppackages

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
)

var tags = []string{"Applications"}

// Register adds the installation routes.
func Register(api huma.API, svc *packages.Installations) {
	h := handlers{svc: svc}
	base := "/api/applications/{applicationId}/packages"
	item := base + "/{scope}/{name}"
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	write := httpapi.Require("applications:write")

	httpapi.Register(api, huma.Operation{
		OperationID: "listApplicationPackages", Method: http.MethodGet, Path: base, Tags: tags, Errors: errs,
		Summary: "List installed packages",
		Description: "Packages installed in the application, optionally of one type, with their settings and draft manifest. " +
			"System packages are visible without being installed and only appear here once installed. An API key only " +
			"reaches its own application (403); another organization's application is 404.",
	}, h.list)

	install := huma.Operation{
		OperationID: "installApplicationPackage", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Install a package",
		Description: "Installs a package of the organization or a system package (ephemeral and foreign packages are 404). " +
			"409 already_installed when it is. Requires applications:write.",
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{write, WithUserAgent},
	}
	httpapi.Register(api, install, h.install)

	httpapi.Register(api, huma.Operation{
		OperationID: "getApplicationPackage", Method: http.MethodGet, Path: item, Tags: tags, Errors: errs,
		Summary:     "Get an installed package",
		Description: "404 package_not_installed when the package is not installed in the application.",
	}, h.get)

	httpapi.Register(api, huma.Operation{
		OperationID: "updateApplicationPackage", Method: http.MethodPut, Path: item, Tags: tags, Errors: errs,
		Summary: "Update an installed package",
		Description: "Upserts the installation (installing the package when it is not) and changes the members sent; " +
			"null clears modelId, proxyId, appProfileId and versionId. appProfileId must be an application profile of " +
			"this application and versionId a version of the package (404 otherwise). Requires applications:write.",
		Middlewares: huma.Middlewares{write, WithUserAgent},
	}, h.update)

	uninstall := huma.Operation{
		OperationID: "uninstallApplicationPackage", Method: http.MethodDelete, Path: item, Tags: tags, Errors: errs,
		DefaultStatus: http.StatusNoContent,
		Summary:       "Uninstall a package",
		Description:   "404 package_not_installed when the package is not installed. Requires applications:write.",
		Middlewares:   huma.Middlewares{write, WithUserAgent},
	}
	httpapi.Register(api, uninstall, h.uninstall)

	httpapi.Register(api, huma.Operation{
		OperationID: "getApplicationPackageRunConfig", Method: http.MethodGet, Path: item + "/run-config", Tags: tags, Errors: errs,
		Summary: "Get the run config of an installed package",
		Description: "What a local run (CLI) inherits: config, model and proxy overrides, the pinned version and the providers " +
			"the manifest declares. 404 package_not_installed when not installed. Requires agents:read.",
		Middlewares: huma.Middlewares{httpapi.Require("agents:read")},
	}, h.runConfig)
}

type handlers struct{ svc *packages.Installations }

// AppParams is the {applicationId} path parameter.
type AppParams struct {
	ApplicationID string `path:"applicationId" doc:"Application id (app_<uuid>)"`
}

// ItemParams address one package of an application.
type ItemParams struct {
	AppParams
	Scope string `path:"scope" doc:"@scope of the package id"`
	Name  string `path:"name" doc:"Name of the package"`
}

func (p ItemParams) id() string { return p.Scope + "/" + p.Name }

type listInput struct {
	AppParams
	Type string `query:"type" enum:"agent,skill,tool,provider" doc:"Only packages of this type"`
}

type listOutput struct {
	Body httpapi.List[packages.InstalledPackage]
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	rows, err := h.svc.List(ctx, Caller(ctx), in.ApplicationID, in.Type)
	if err != nil {
		return nil, Problem(err)
	}
	return &listOutput{Body: httpapi.NewList(rows, false)}, nil
}

type installInput struct {
	AppParams
	Body struct {
		PackageID string     `json:"packageId" minLength:"1" maxLength:"256" doc:"@scope/name"`
		Config    *RawObject `json:"config,omitempty" doc:"Initial configuration (default {})"`
	}
}

type installationOutput struct {
	Body *packages.Installation
}

func (h handlers) install(ctx context.Context, in *installInput) (*installationOutput, error) {
	var cfg []byte
	if in.Body.Config != nil {
		cfg = in.Body.Config.Raw
	}
	row, err := h.svc.Install(ctx, Caller(ctx), in.ApplicationID, in.Body.PackageID, cfg)
	if err != nil {
		return nil, Problem(err)
	}
	return &installationOutput{Body: row}, nil
}

type installedOutput struct {
	Body *packages.InstalledPackage
}

func (h handlers) get(ctx context.Context, in *ItemParams) (*installedOutput, error) {
	row, err := h.svc.Get(ctx, Caller(ctx), in.ApplicationID, in.id())
	if err != nil {
		return nil, Problem(err)
	}
	return &installedOutput{Body: row}, nil
}

type updateInput struct {
	ItemParams
	Body struct {
		Config       *RawObject `json:"config,omitempty" doc:"Replaces the configuration"`
		ModelID      OptString  `json:"modelId,omitempty" doc:"Model override; null = organization default"`
		ProxyID      OptString  `json:"proxyId,omitempty" doc:"Proxy override; null = organization default"`
		AppProfileID OptString  `json:"appProfileId,omitempty" doc:"Application connection profile; null = none"`
		VersionID    OptInt     `json:"versionId,omitempty" doc:"Pinned version id; null = the draft"`
		Enabled      *bool      `json:"enabled,omitempty"`
	}
}

func (h handlers) update(ctx context.Context, in *updateInput) (*installationOutput, error) {
	b := in.Body
	u := packages.InstallUpdate{SetModelID: b.ModelID.Set, ModelID: b.ModelID.Value, SetProxyID: b.ProxyID.Set, ProxyID: b.ProxyID.Value,
		SetAppProfileID: b.AppProfileID.Set, AppProfileID: b.AppProfileID.Value, SetVersionID: b.VersionID.Set,
		VersionID: b.VersionID.Value, Enabled: b.Enabled}
	if b.Config != nil {
		u.Config = b.Config.Raw
	}
	row, err := h.svc.Update(ctx, Caller(ctx), in.ApplicationID, in.id(), u)
	if err != nil {
		return nil, Problem(err)
	}
	return &installationOutput{Body: row}, nil
}

func (h handlers) uninstall(ctx context.Context, in *ItemParams) (*struct{}, error) {
	if err := h.svc.Uninstall(ctx, Caller(ctx), in.ApplicationID, in.id()); err != nil {
		return nil, Problem(err)
	}
	return nil, nil
}

type runConfigOutput struct {
	Body *packages.RunConfig
}

func (h handlers) runConfig(ctx context.Context, in *ItemParams) (*runConfigOutput, error) {
	rc, err := h.svc.RunConfig(ctx, Caller(ctx), in.ApplicationID, in.id())
	if err != nil {
		return nil, Problem(err)
	}
	return &runConfigOutput{Body: rc}, nil
}
