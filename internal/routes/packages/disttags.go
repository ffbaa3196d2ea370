package packages

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
)

// TagPath addresses one dist-tag of a package.
type TagPath struct {
	PkgPath
	Tag string `path:"tag" doc:"Dist-tag name (^[a-z][a-z0-9._-]*$; latest is managed by the platform)"`
}

// SetTagBody is the body of PUT …/dist-tags/{tag}.
type SetTagBody struct {
	Version string `json:"version" minLength:"1" maxLength:"256" doc:"Exact, non-yanked version the tag points at"`
}

type setTagInput struct {
	TagPath
	Body SetTagBody
}

type tagInput struct {
	TagPath
}

// DistTagsBody is `{distTags: {tag: version}}`.
type DistTagsBody struct {
	DistTags map[string]string `json:"distTags"`
}

type distTagsOutput struct {
	Body DistTagsBody
}

// registerDistTags adds the dist-tag routes of one type. They are an extension: upstream manages `latest` only.
// They live under the typed path (/api/packages/<t>/{scope}/{name}/dist-tags) because an untyped
// /api/packages/{scope}/{name}/dist-tags would overlap GET /api/packages/<t>/{scope}/{name} in the router.
func (h handlers) registerDistTags(api huma.API, folder, typ, t, item string, read, write func(huma.Context, func(huma.Context))) {
	httpapi.Register(api, huma.Operation{
		OperationID: "list" + t + "DistTags", Method: http.MethodGet, Path: item + "/dist-tags",
		Summary: "List the dist-tags of a " + typ, Tags: tags, Errors: errs,
		Description: "Extension: `{distTags: {tag: version}}`. `latest` is moved by the platform on publish (never to a " +
			"prerelease or a lower version), yank, un-yank and version deletion. Requires " + folder + ":read.",
		Middlewares: huma.Middlewares{read},
	}, func(ctx context.Context, in *getInput) (*distTagsOutput, error) {
		tags, err := h.Registry.Tags(ctx, caller(ctx), typ, in.id())
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &distTagsOutput{Body: DistTagsBody{DistTags: tags}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "set" + t + "DistTag", Method: http.MethodPut, Path: item + "/dist-tags/{tag}",
		Summary: "Set a dist-tag of a " + typ, Tags: tags, Errors: errs,
		Description: "Extension: points a custom dist-tag at one exact, non-yanked version (400 version_yanked) and returns " +
			"every tag. Tag names match ^[a-z][a-z0-9._-]*$ and cannot be versions; `latest` is protected (400 " +
			"invalid_request). Requires " + folder + ":write on a package the organization owns.",
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *setTagInput) (*distTagsOutput, error) {
		tags, err := h.Registry.SetTag(ctx, caller(ctx), typ, in.id(), in.Tag, in.Body.Version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &distTagsOutput{Body: DistTagsBody{DistTags: tags}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "delete" + t + "DistTag", Method: http.MethodDelete, Path: item + "/dist-tags/{tag}",
		Summary: "Remove a dist-tag of a " + typ, Tags: tags, DefaultStatus: http.StatusNoContent, Errors: errs,
		Description: "Extension: removes a custom dist-tag → 204 (404 when absent; `latest` is protected, 400). Requires " +
			folder + ":write on a package the organization owns.",
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *tagInput) (*struct{}, error) {
		return nil, h.problem(ctx, h.Registry.DeleteTag(ctx, caller(ctx), typ, in.id(), in.Tag))
	})
}
