package packages

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// Inputs and outputs of the per-type routes.

// PkgPath is the {scope}/{name} of a package route.
type PkgPath struct {
	Scope string `path:"scope" doc:"Package scope with its @ (e.g. @acme)"`
	Name  string `path:"name" doc:"Package name"`
}

func (p PkgPath) id() string { return p.Scope + "/" + p.Name }

// IDPath is the URL-encoded {id} of the alias routes.
type IDPath struct {
	ID string `path:"id" doc:"URL-encoded package id (%40acme%2Fname)"`
}

// DraftBody is the body of JSON create.
type DraftBody struct {
	Manifest   json.RawMessage `json:"manifest" doc:"AFPS manifest (a JSON object); name must be @<org slug>/<name>"`
	Content    *string         `json:"content,omitempty" doc:"prompt.md (agents, required), SKILL.md (skills, required), TOOL.md (tools), PROVIDER.md (providers)"`
	SourceCode *string         `json:"sourceCode,omitempty" doc:"Tools (required): the entrypoint module source, default export registering the tool"`
}

// UpdateBody is the body of PUT: the members to change and the lockVersion last read.
type UpdateBody struct {
	Manifest    json.RawMessage `json:"manifest,omitempty" doc:"New draft manifest; its name cannot change"`
	Content     *string         `json:"content,omitempty"`
	SourceCode  *string         `json:"sourceCode,omitempty"`
	LockVersion int             `json:"lockVersion" doc:"lockVersion from the last read; a stale value is 409 conflict"`
}

type emptyInput struct{}

type createInput struct {
	Body DraftBody
}

type getInput struct {
	PkgPath
}

type getIDInput struct {
	IDPath
}

type updateInput struct {
	PkgPath
	Body UpdateBody
}

type updateIDInput struct {
	IDPath
	Body UpdateBody
}

type listOutput struct {
	Body httpapi.List[PackageItem]
}

// CreatedBody answers JSON create.
type CreatedBody struct {
	PackageID   string `json:"packageId"`
	LockVersion int    `json:"lockVersion"`
	Message     string `json:"message" doc:"\"Agent created\", \"Skill created\"…"`
}

type createdOutput struct {
	Body CreatedBody
}

// UpdatedBody answers PUT.
type UpdatedBody struct {
	PackageID   string   `json:"packageId"`
	LockVersion int      `json:"lockVersion"`
	Warnings    []string `json:"warnings,omitempty"`
}

type updatedOutput struct {
	Body UpdatedBody
}

type detailOutput struct {
	Body PackageDetail
}

// registerType adds the routes of one package type under /api/packages/<folder>.
func (h handlers) registerType(api huma.API, folder string) {
	typ := packages.TypeFromFolder(folder)
	t := title(folder)
	base := "/api/packages/" + folder
	item := base + "/{scope}/{name}"
	read := httpapi.Require(auth.Permission(folder + ":read"))
	write := httpapi.Require(auth.Permission(folder + ":write"))
	del := httpapi.Require(auth.Permission(folder + ":delete"))

	httpapi.Register(api, huma.Operation{
		OperationID: "list" + t + "Packages", Method: http.MethodGet, Path: base,
		Summary: "List " + folder, Tags: tags, Errors: errs,
		Description: "The " + folder + " the current application sees: system packages first, then the ones installed in " +
			"the application (ephemeral packages never appear). Requires " + folder + ":read.",
		Middlewares: huma.Middlewares{read},
	}, func(ctx context.Context, _ *emptyInput) (*listOutput, error) {
		list, err := h.Registry.List(ctx, caller(ctx), typ)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		items := make([]PackageItem, 0, len(list))
		for _, s := range list {
			items = append(items, toItem(s))
		}
		return &listOutput{Body: httpapi.NewList(items, false)}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "create" + t + "Package", Method: http.MethodPost, Path: base,
		Summary: "Create a " + typ, Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Creates a " + typ + " of the organization from JSON: the manifest is validated (400 validation_failed, " +
			"fields manifest.<path> / content / sourceCode), its scope must be the organization slug (403 scope_mismatch), " +
			"the id must be free (400 name_collision). $schema is stamped, manifest.version is published as the first " +
			"version and the package is installed in the current application. Requires " + folder + ":write.",
		Errors:      errs,
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *createInput) (*createdOutput, error) {
		res, err := h.Registry.Create(ctx, caller(ctx), typ, packages.DraftInput{Manifest: in.Body.Manifest,
			Content: in.Body.Content, SourceCode: in.Body.SourceCode})
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &createdOutput{Body: CreatedBody{PackageID: res.PackageID, LockVersion: res.LockVersion, Message: packages.CreatedMessage(typ)}}, nil
	})

	detail := func(ctx context.Context, id string) (*detailOutput, error) {
		d, err := h.Registry.Detail(ctx, caller(ctx), typ, id)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &detailOutput{Body: toDetail(d)}, nil
	}
	if typ != packages.TypeAgent || !h.AgentDetailElsewhere {
		httpapi.Register(api, huma.Operation{
			OperationID: "get" + t + "Package", Method: http.MethodGet, Path: item,
			Summary: "Get a " + typ, Tags: tags, Errors: errs,
			Description: "The package row with versionCount, hasUnarchivedChanges, latestVersion, distTags and, for tools, " +
				"sourceCode. 404 unless it is a system package or installed in the current application. Requires " + folder + ":read.",
			Middlewares: huma.Middlewares{read},
		}, func(ctx context.Context, in *getInput) (*detailOutput, error) { return detail(ctx, in.id()) })
		httpapi.Register(api, huma.Operation{
			OperationID: "get" + t + "PackageByID", Method: http.MethodGet, Path: base + "/{id}",
			Summary: "Get a " + typ + " by URL-encoded id", Tags: tags, Errors: errs,
			Description: "Alias of GET " + item + " with the id URL-encoded in one segment.",
			Middlewares: huma.Middlewares{read},
		}, func(ctx context.Context, in *getIDInput) (*detailOutput, error) { return detail(ctx, in.ID) })
	}

	update := func(ctx context.Context, id string, b UpdateBody) (*updatedOutput, error) {
		res, err := h.Registry.Update(ctx, caller(ctx), typ, id, packages.UpdateInput{LockVersion: b.LockVersion,
			DraftInput: packages.DraftInput{Manifest: b.Manifest, Content: b.Content, SourceCode: b.SourceCode}})
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &updatedOutput{Body: UpdatedBody{PackageID: res.PackageID, LockVersion: res.LockVersion, Warnings: res.Warnings}}, nil
	}
	updateDoc := "Updates the draft of a package the organization owns (scope = organization slug; system packages and " +
		"foreign scopes are 403 \"Fork it instead\"). lockVersion is compared and swapped: a stale value is 409 conflict. " +
		"The manifest is re-validated and its name cannot change; other draft files are kept. Requires " + folder + ":write."
	httpapi.Register(api, huma.Operation{
		OperationID: "update" + t + "Package", Method: http.MethodPut, Path: item,
		Summary: "Update a " + typ + " draft", Tags: tags, Description: updateDoc,
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *updateInput) (*updatedOutput, error) {
		return update(ctx, in.id(), in.Body)
	})
	httpapi.Register(api, huma.Operation{
		OperationID: "update" + t + "PackageByID", Method: http.MethodPut, Path: base + "/{id}",
		Summary: "Update a " + typ + " draft by URL-encoded id", Tags: tags, Description: updateDoc,
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *updateIDInput) (*updatedOutput, error) {
		return update(ctx, in.ID, in.Body)
	})

	remove := func(ctx context.Context, id string) (*struct{}, error) {
		return nil, h.problem(ctx, h.Registry.Delete(ctx, caller(ctx), typ, id))
	}
	deleteDoc := "Deletes a package of the organization with its versions and archives → 204. 409 in_use while another " +
		"package of the organization depends on it (provider_in_use for a provider used by agents). Requires " + folder + ":delete."
	httpapi.Register(api, huma.Operation{
		OperationID: "delete" + t + "Package", Method: http.MethodDelete, Path: item,
		Summary: "Delete a " + typ, Tags: tags, DefaultStatus: http.StatusNoContent, Description: deleteDoc,
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{del, withUserAgent},
	}, func(ctx context.Context, in *getInput) (*struct{}, error) { return remove(ctx, in.id()) })
	httpapi.Register(api, huma.Operation{
		OperationID: "delete" + t + "PackageByID", Method: http.MethodDelete, Path: base + "/{id}",
		Summary: "Delete a " + typ + " by URL-encoded id", Tags: tags, DefaultStatus: http.StatusNoContent, Description: deleteDoc,
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{del, withUserAgent},
	}, func(ctx context.Context, in *getIDInput) (*struct{}, error) { return remove(ctx, in.ID) })

	h.registerVersions(api, folder, typ, t, item, read, write, del)
	h.registerDistTags(api, folder, typ, t, item, read, write)
}
