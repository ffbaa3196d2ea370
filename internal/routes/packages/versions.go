package packages

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
)

// VersionPath addresses one version (or version query) of a package.
type VersionPath struct {
	PkgPath
	Version string `path:"version" doc:"Exact version, dist-tag or semver range (URL-encoded)"`
}

// CreateVersionBody is the optional body of POST …/versions.
type CreateVersionBody struct {
	Version string `json:"version,omitempty" maxLength:"256" doc:"Publish as this version (also rewrites the draft's manifest.version)"`
}

type createVersionInput struct {
	PkgPath
	Body *CreateVersionBody `required:"false"`
}

type versionInput struct {
	VersionPath
}

// YankBody is the optional body of POST …/yank.
type YankBody struct {
	Reason string `json:"reason,omitempty" maxLength:"1000" doc:"Why the version should not be used"`
}

type yankInput struct {
	VersionPath
	Body *YankBody `required:"false"`
}

// VersionsBody is `{versions: […]}` (newest first).
type VersionsBody struct {
	Versions []VersionObject `json:"versions"`
}

type versionsOutput struct {
	Body VersionsBody
}

// VersionInfoBody is `GET …/versions/info`.
type VersionInfoBody struct {
	LatestPublishedVersion *string `json:"latestPublishedVersion" doc:"Version the latest dist-tag points at"`
	ActiveVersion          *string `json:"activeVersion" doc:"Version of the draft manifest"`
}

type versionInfoOutput struct {
	Body VersionInfoBody
}

// VersionCreatedBody answers POST …/versions.
type VersionCreatedBody struct {
	ID      int64  `json:"id"`
	Version string `json:"version"`
	Message string `json:"message"`
}

type versionCreatedOutput struct {
	Body VersionCreatedBody
}

type versionDetailOutput struct {
	Body VersionDetail
}

// RestoredBody answers POST …/restore.
type RestoredBody struct {
	Message         string `json:"message"`
	RestoredVersion string `json:"restoredVersion"`
	LockVersion     int    `json:"lockVersion"`
}

type restoredOutput struct {
	Body RestoredBody
}

type versionObjectOutput struct {
	Body VersionObject
}

func (h handlers) registerVersions(api huma.API, folder, typ, t, item string, read, write, del func(huma.Context, func(huma.Context))) {
	httpapi.Register(api, huma.Operation{
		OperationID: "list" + t + "Versions", Method: http.MethodGet, Path: item + "/versions",
		Summary: "List the versions of a " + typ, Tags: tags, Errors: errs,
		Description: "Every version, newest first, yanked ones included, with the dist-tags pointing at each. Requires " + folder + ":read.",
		Middlewares: huma.Middlewares{read},
	}, func(ctx context.Context, in *getInput) (*versionsOutput, error) {
		list, err := h.Registry.Versions(ctx, caller(ctx), typ, in.id())
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		out := &versionsOutput{Body: VersionsBody{Versions: make([]VersionObject, 0, len(list))}}
		for _, v := range list {
			out.Body.Versions = append(out.Body.Versions, toVersion(v))
		}
		return out, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "get" + t + "VersionInfo", Method: http.MethodGet, Path: item + "/versions/info",
		Summary: "Version summary of a " + typ, Tags: tags, Errors: errs,
		Description: "{latestPublishedVersion, activeVersion}: the version `latest` points at and the draft's version (null when none).",
		Middlewares: huma.Middlewares{read},
	}, func(ctx context.Context, in *getInput) (*versionInfoOutput, error) {
		info, err := h.Registry.Info(ctx, caller(ctx), typ, in.id())
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &versionInfoOutput{Body: VersionInfoBody{LatestPublishedVersion: optional(info.LatestPublishedVersion),
			ActiveVersion: optional(info.ActiveVersion)}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "create" + t + "Version", Method: http.MethodPost, Path: item + "/versions",
		Summary: "Publish the draft of a " + typ, Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Publishes the draft as an immutable version (manifest.version, or `version` which also rewrites the " +
			"draft). Forward-only: 400 version_invalid, 409 version_not_higher when the version is not above the highest " +
			"existing one (or exists with other content), 409 no_changes when that version already holds exactly this " +
			"draft. `latest` moves to a new release that is not lower than it. Requires " + folder + ":write.",
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *createVersionInput) (*versionCreatedOutput, error) {
		version := ""
		if in.Body != nil {
			version = in.Body.Version
		}
		v, err := h.Registry.CreateVersion(ctx, caller(ctx), typ, in.id(), version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &versionCreatedOutput{Body: VersionCreatedBody{ID: v.ID, Version: v.Version,
			Message: "Version " + v.Version + " created"}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "get" + t + "Version", Method: http.MethodGet, Path: item + "/versions/{version}",
		Summary: "Get a version of a " + typ, Tags: tags, Errors: errs,
		Description: "The version a query names: an exact version (yanked included), else a dist-tag (none when its target " +
			"is yanked), else the highest non-yanked version satisfying it as a semver range. Requires " + folder + ":read.",
		Middlewares: huma.Middlewares{read},
	}, func(ctx context.Context, in *versionInput) (*versionDetailOutput, error) {
		d, err := h.Registry.GetVersion(ctx, caller(ctx), typ, in.id(), in.Version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		tags := d.DistTags
		if tags == nil {
			tags = []string{}
		}
		return &versionDetailOutput{Body: VersionDetail{ID: d.ID, Version: d.Version.Version, Manifest: rawJSON(d.Manifest),
			Content: d.Content, SourceCode: d.SourceCode, Yanked: d.Yanked, YankedReason: optional(d.YankedReason),
			Integrity: d.Integrity, ArtifactSize: d.ArtifactSize, CreatedAt: d.CreatedAt, DistTags: tags}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "restore" + t + "Version", Method: http.MethodPost, Path: item + "/versions/{version}/restore",
		Summary: "Restore a version into the draft of a " + typ, Tags: tags, Errors: errs,
		Description: "Copies the files of that version into the draft (lockVersion is incremented). Requires " + folder + ":write.",
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *versionInput) (*restoredOutput, error) {
		restored, lock, err := h.Registry.Restore(ctx, caller(ctx), typ, in.id(), in.Version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &restoredOutput{Body: RestoredBody{Message: "Version " + restored + " restored to draft", RestoredVersion: restored,
			LockVersion: lock}}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "delete" + t + "Version", Method: http.MethodDelete, Path: item + "/versions/{version}",
		Summary: "Delete a version of a " + typ, Tags: tags, DefaultStatus: http.StatusNoContent, Errors: errs,
		Description: "Deletes one exact version and its archive → 204; dist-tags pointing at it move to the highest " +
			"remaining non-yanked release, or are removed. Requires " + folder + ":delete.",
		Middlewares: huma.Middlewares{del, withUserAgent},
	}, func(ctx context.Context, in *versionInput) (*struct{}, error) {
		return nil, h.problem(ctx, h.Registry.DeleteVersion(ctx, caller(ctx), typ, in.id(), in.Version))
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "yank" + t + "Version", Method: http.MethodPost, Path: item + "/versions/{version}/yank",
		Summary: "Yank a version of a " + typ, Tags: tags, Errors: errs,
		Description: "Extension (no upstream equivalent): marks one exact version as yanked with an optional reason. Range " +
			"resolution skips it and dist-tags pointing at it resolve to nothing; `latest` moves to the highest remaining " +
			"non-yanked release. The archive stays downloadable by its exact version, with `X-Yanked: true`. Requires " +
			folder + ":write.",
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *yankInput) (*versionObjectOutput, error) {
		reason := ""
		if in.Body != nil {
			reason = in.Body.Reason
		}
		v, err := h.Registry.Yank(ctx, caller(ctx), typ, in.id(), in.Version, reason)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &versionObjectOutput{Body: toVersion(*v)}, nil
	})

	httpapi.Register(api, huma.Operation{
		OperationID: "unyank" + t + "Version", Method: http.MethodPost, Path: item + "/versions/{version}/unyank",
		Summary: "Un-yank a version of a " + typ, Tags: tags, Errors: errs,
		Description: "Extension: clears the yank of one exact version; `latest` moves back to it when it is the highest " +
			"non-yanked release. Requires " + folder + ":write.",
		Middlewares: huma.Middlewares{write, withUserAgent},
	}, func(ctx context.Context, in *versionInput) (*versionObjectOutput, error) {
		v, err := h.Registry.Unyank(ctx, caller(ctx), typ, in.id(), in.Version)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &versionObjectOutput{Body: toVersion(*v)}, nil
	})
}
