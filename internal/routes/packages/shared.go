package packages

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// ForkBody is the optional body of a fork.
type ForkBody struct {
	Name string `json:"name,omitempty" maxLength:"100" doc:"Name of the fork (slug); default the source's name"`
}

type forkInput struct {
	PkgPath
	Body *ForkBody `required:"false"`
}

// ForkedBody answers a fork.
type ForkedBody struct {
	PackageID  string `json:"packageId"`
	Type       string `json:"type" enum:"agent,skill,tool,provider"`
	ForkedFrom string `json:"forkedFrom"`
}

type forkedOutput struct {
	Body ForkedBody
}

// ImportForm is the multipart form of an archive import.
type ImportForm struct {
	File huma.FormFile `form:"file" required:"false" doc:"The .afps or .zip archive"`
}

type importInput struct {
	Force   bool `query:"force" doc:"Overwrite unpublished draft changes and replace an existing version stored with other bytes"`
	RawBody huma.MultipartFormFiles[ImportForm]
}

// ImportedBody answers an archive or GitHub import.
type ImportedBody struct {
	PackageID string `json:"packageId"`
	Type      string `json:"type" enum:"agent,skill,tool,provider"`
	Version   string `json:"version"`
}

type importedOutput struct {
	Body ImportedBody
}

// BundleForm is the multipart form of a bundle import (field `file` or `bundle`).
type BundleForm struct {
	File   huma.FormFile `form:"file" required:"false" doc:"The .afps-bundle (or a single .afps / .zip)"`
	Bundle huma.FormFile `form:"bundle" required:"false" doc:"Alternative field name for the archive"`
}

type bundleInput struct {
	RawBody huma.MultipartFormFiles[BundleForm]
}

// BundleEntry is one package of a bundle import.
type BundleEntry struct {
	Identity  string `json:"identity" doc:"@scope/name@version"`
	Status    string `json:"status" enum:"inserted,reused"`
	VersionID int64  `json:"versionId"`
}

// BundleImportedBody answers a bundle import.
type BundleImportedBody struct {
	Imported      []BundleEntry `json:"imported"`
	RootInstalled bool          `json:"rootInstalled"`
	RootPackageID string        `json:"rootPackageId"`
	RootVersion   string        `json:"rootVersion"`
}

type bundleImportedOutput struct {
	Body BundleImportedBody
}

// GitHubBody is the body of a GitHub import.
type GitHubBody struct {
	URL string `json:"url" minLength:"1" maxLength:"2048" doc:"https://github.com/{owner}/{repo}[/tree/{ref}/{path} | /blob/{ref}/{path}]"`
}

type gitHubInput struct {
	Body GitHubBody
}

type downloadInput struct {
	PkgPath
	Version string `path:"version" doc:"Exact version, dist-tag or semver range (URL-encoded)"`
}

type downloadOutput struct {
	ContentType string `header:"Content-Type"`
	Disposition string `header:"Content-Disposition"`
	Integrity   string `header:"X-Integrity" doc:"sha256-<base64> of the bytes served"`
	Yanked      string `header:"X-Yanked" doc:"true when the version is yanked"`
	Body        []byte
}

// registerShared adds the routes that are not per type.
func (h handlers) registerShared(api huma.API) {
	agentsWrite := httpapi.Require("agents:write")
	importRL := rl(h.Limiter, importRate)
	importErrs := append(errs, http.StatusConflict, http.StatusTooManyRequests)

	httpapi.Register(api, huma.Operation{
		OperationID: "forkPackage", Method: http.MethodPost, Path: "/api/packages/{scope}/{name}/fork",
		Summary: "Fork a package", Tags: tags, DefaultStatus: http.StatusCreated, Errors: errs,
		Description: "Copies the latest published version of a package the organization sees but does not own (400 " +
			"invalid_request \"You already own this package\") into @<org slug>/<name or the source's name> (400 " +
			"name_collision when taken), publishes the same version and installs it in the current application. Requires agents:write.",
		Middlewares: huma.Middlewares{agentsWrite, withUserAgent},
	}, func(ctx context.Context, in *forkInput) (*forkedOutput, error) {
		name := ""
		if in.Body != nil {
			name = in.Body.Name
		}
		res, err := h.Registry.Fork(ctx, caller(ctx), in.id(), name)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &forkedOutput{Body: ForkedBody{PackageID: res.PackageID, Type: res.Type, ForkedFrom: res.ForkedFrom}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "importPackage", Method: http.MethodPost, Path: "/api/packages/import",
		Summary: "Import a package archive", Tags: tags, DefaultStatus: http.StatusCreated, Errors: importErrs,
		Description: "Multipart field `file` (.afps or .zip, ≤ 10 MiB). Archive errors are 400 with the lower-cased code " +
			"(file_too_large, zip_invalid, zip_bomb, missing_manifest, invalid_manifest, missing_content, invalid_content); " +
			"a ZIP with only SKILL.md becomes a skill of the organization. 400 name_collision (system package or another " +
			"organization's), 400 type_mismatch, 409 draft_overwrite (unpublished draft changes) and 409 integrity_mismatch " +
			"(same version stored with other bytes) unless ?force=true, 400 post_install_failed (e.g. a version lower than " +
			"the highest one), 403 scope_mismatch for a scope that is another organization's slug. The bytes are stored as " +
			"uploaded (re-packed deterministically when the sanitiser dropped entries). Requires agents:write; 10/min.",
		Middlewares: huma.Middlewares{importRL, agentsWrite, withUserAgent},
	}, func(ctx context.Context, in *importInput) (*importedOutput, error) {
		form := in.RawBody.Data()
		if form == nil || !form.File.IsSet {
			return nil, httpapi.BadRequest("invalid_request", "Missing multipart field file").WithParam("file")
		}
		data, err := readUpload(form.File)
		if err != nil {
			return nil, err
		}
		res, err := h.Registry.Import(ctx, caller(ctx), form.File.Filename, data, in.Force)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &importedOutput{Body: ImportedBody{PackageID: res.PackageID, Type: res.Type, Version: res.Version}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "importPackageBundle", Method: http.MethodPost, Path: "/api/packages/import-bundle",
		Summary: "Import a package bundle", Tags: tags, DefaultStatus: http.StatusCreated, Errors: importErrs,
		Description: "Multipart field `file` or `bundle`: a .afps-bundle, or a single .afps whose dependencies are resolved " +
			"from the organization's published versions. Reader errors are 400 with the lower-cased bundle code. A conflict " +
			"scan runs first (foreign_org_owner, integrity_mismatch, type_mismatch, version_not_higher, system_package: 409 " +
			"bundle_conflict, one errors[] entry per package); then every package is reused or inserted in ONE transaction " +
			"(nothing is kept on failure) and the root is installed in the current application. Requires agents:write; 10/min.",
		Middlewares: huma.Middlewares{importRL, agentsWrite, withUserAgent},
	}, func(ctx context.Context, in *bundleInput) (*bundleImportedOutput, error) {
		form := in.RawBody.Data()
		var file huma.FormFile
		switch {
		case form != nil && form.File.IsSet:
			file = form.File
		case form != nil && form.Bundle.IsSet:
			file = form.Bundle
		default:
			return nil, httpapi.BadRequest("invalid_request", "Missing multipart field file (or bundle)").WithParam("file")
		}
		data, err := readUpload(file)
		if err != nil {
			return nil, err
		}
		res, err := h.Registry.ImportBundle(ctx, caller(ctx), file.Filename, data)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		out := &bundleImportedOutput{Body: BundleImportedBody{Imported: make([]BundleEntry, 0, len(res.Imported)),
			RootInstalled: res.RootInstalled, RootPackageID: res.RootPackageID, RootVersion: res.RootVersion}}
		for _, e := range res.Imported {
			out.Body.Imported = append(out.Body.Imported, BundleEntry{Identity: e.Identity, Status: e.Status, VersionID: e.VersionID})
		}
		return out, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "importPackageFromGitHub", Method: http.MethodPost, Path: "/api/packages/import-github",
		Summary: "Import a package from GitHub", Tags: tags, DefaultStatus: http.StatusCreated,
		Errors: append(importErrs, http.StatusBadGateway),
		Description: "Fetches a folder of a public GitHub repository over HTTPS (github.com/{o}/{r}, …/tree/{ref}/{path}, " +
			"…/blob/{ref}/{path}; at most 50 files, 1 MiB each, 5 MiB in total, 30 s per request) and imports it like an " +
			"archive (never forced). Failures use upstream's upper-case codes with the title \"Import Failed\": INVALID_URL, " +
			"NOT_FOUND (404), RATE_LIMITED (429), GITHUB_ERROR and DOWNLOAD_FAILED (502), REPO_TOO_LARGE, EMPTY_PATH, " +
			"TOO_MANY_FILES, TOO_LARGE, FILE_TOO_LARGE. Requires agents:write; 10/min.",
		Middlewares: huma.Middlewares{importRL, agentsWrite, withUserAgent},
	}, func(ctx context.Context, in *gitHubInput) (*importedOutput, error) {
		res, err := h.Registry.ImportGitHub(ctx, caller(ctx), in.Body.URL)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &importedOutput{Body: ImportedBody{PackageID: res.PackageID, Type: res.Type, Version: res.Version}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "downloadPackageVersion", Method: http.MethodGet, Path: "/api/packages/{scope}/{name}/{version}/download",
		Summary: "Download a package version", Tags: tags, Errors: append(errs, http.StatusTooManyRequests),
		Description: "The stored .afps of the version a query resolves to (exact, dist-tag, range), for a package of the " +
			"organization or a system package. The bytes are re-verified against the recorded integrity before they are " +
			"served (a mismatch is 500, never unverified bytes). Headers: Content-Type application/afps+zip, X-Integrity, " +
			"Content-Disposition attachment; filename=\"<scope>-<name>-<version>.afps\", X-Yanked: true for a yanked " +
			"version (still downloadable by its exact version). Requires <type>:read; 50/min.",
		Middlewares: huma.Middlewares{rl(h.Limiter, downloadRate)},
		Responses: map[string]*huma.Response{"200": {Description: "The archive", Content: map[string]*huma.MediaType{
			"application/afps+zip": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
	}, func(ctx context.Context, in *downloadInput) (*downloadOutput, error) {
		d, err := h.Registry.Download(ctx, caller(ctx), in.id(), in.Version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		perm := auth.Permission(packages.Folder(d.Type) + ":read")
		if p, _ := auth.PrincipalFrom(ctx); !p.Can(perm) {
			return nil, httpapi.Forbidden("Insufficient permissions: " + string(perm) + " required")
		}
		out := &downloadOutput{ContentType: "application/afps+zip", Integrity: d.Integrity, Body: d.Data,
			Disposition: fmt.Sprintf("attachment; filename=%q", d.Filename)}
		if d.Yanked {
			out.Yanked = "true"
		}
		return out, nil
	})
}

// readUpload reads an uploaded file (the pipeline's body limit already bounds it).
func readUpload(f huma.FormFile) ([]byte, error) {
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, httpapi.BadRequest("invalid_request", "Cannot read the uploaded file: "+strings.TrimSpace(err.Error()))
	}
	return data, nil
}
